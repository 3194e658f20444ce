// Runs graphql-http's GraphQL-over-HTTP server audits against a running `mdr serve`.
//
//   MDR_AUDIT_URL=http://127.0.0.1:PORT/graphql MDR_AUDIT_KEY=<api key> node audit.mjs
//
// Every request carries the client's key (mdr answers 401 without one), so the
// audits test the GraphQL layer, not authentication. Prints one JSON object:
// each audit's id, name, level and status, and passed/total per level (MUST,
// SHOULD, MAY). Exits 1 when a MUST or SHOULD audit does not pass.
import { serverAudits } from 'graphql-http';

const url = process.env.MDR_AUDIT_URL;
const key = process.env.MDR_AUDIT_KEY;
if (!url || !key) {
  console.error('Set MDR_AUDIT_URL (the /graphql address) and MDR_AUDIT_KEY (an API key).');
  process.exit(2);
}

function withKey(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${key}`);
  return fetch(input, { ...init, headers });
}

const results = [];
// One at a time: the audits are few and the server shares the machine.
for (const audit of serverAudits({ url, fetchFn: withKey })) {
  const result = await audit.fn();
  const level = audit.name.split(' ')[0];
  const entry = { id: audit.id, name: audit.name, level, status: result.status };
  if (result.status !== 'ok') {
    entry.reason = result.reason;
    entry.httpStatus = result.response.status;
    entry.body = await result.response.text().catch(() => '');
  }
  results.push(entry);
}

const counts = {};
for (const level of ['MUST', 'SHOULD', 'MAY']) {
  const of = results.filter((r) => r.level === level);
  counts[level] = { passed: of.filter((r) => r.status === 'ok').length, total: of.length };
}
const failing = results.filter((r) => r.level !== 'MAY' && r.status !== 'ok');
console.log(JSON.stringify({ counts, failing: failing.map((r) => r.id), results }, null, 1));
process.exit(failing.length ? 1 : 0);
