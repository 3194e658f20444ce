-- The same-job peer of bench/api_verify.py: verification as a team using PostGraphile
-- would build it. A SQL function per registry looks the record up, compares the claimed
-- fields, writes the audit record through audit.record_access (the one way the API role
-- may write one) and returns the answer; PostGraphile exposes each VOLATILE function as
-- a mutation. The answers follow mdr's rules (graphql_api/verification.py): a malformed
-- identifier is "invalid" without a look-up; found never depends on the day; a fact
-- that changes is compared as of the day, before its first version with the first; the
-- status is told only when every claimed field matches.
--
-- The bench creates verification_peer.client_id() (the audit records' client) after
-- this file, runs it as the administrator and grants the API role what it needs.

DROP SCHEMA IF EXISTS verification_peer CASCADE;
CREATE SCHEMA verification_peer;

-- mdr's name comparison key (loaders/rules/text.py name_key): Unicode form, case and
-- spacing do not matter, nor where a word's tone mark sits; the tone itself does.
CREATE FUNCTION verification_peer.name_key(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(string_agg(
           normalize(regexp_replace(w, '[\u0300\u0301\u0303\u0309\u0323]', '', 'g'), NFC)
           || regexp_replace(w, '[^\u0300\u0301\u0303\u0309\u0323]', '', 'g'), ' ' ORDER BY n),
         '')
  FROM regexp_split_to_table(normalize(lower(normalize(value, NFC)), NFD), '\s+')
       WITH ORDINALITY AS t(w, n)
  WHERE w <> ''
$$;
COMMENT ON FUNCTION verification_peer.name_key(text) IS E'@omit';

CREATE TYPE verification_peer.person_verification AS (
  national_id text,
  found boolean,
  match boolean,
  status text,
  full_name_match boolean,
  birth_date_match boolean,
  sex_match boolean,
  reference uuid
);

CREATE FUNCTION verification_peer.verify_person(
    national_id text, full_name text DEFAULT NULL, birth_date date DEFAULT NULL,
    sex text DEFAULT NULL, as_of date DEFAULT NULL)
RETURNS verification_peer.person_verification
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  day date := coalesce(as_of, current_date);
  answer verification_peer.person_verification;
  known population.person;
  known_name text;
  outcome text;
BEGIN
  IF full_name IS NULL AND birth_date IS NULL AND sex IS NULL THEN
    RAISE EXCEPTION 'a claim states at least one field besides nationalId';
  END IF;
  answer.national_id := national_id;
  answer.reference := gen_random_uuid();
  answer.found := false;
  answer.match := false;
  IF national_id !~ '^[0-9]{12}$' THEN
    outcome := 'invalid';
  ELSE
    SELECT * INTO known FROM population.person p WHERE p.national_id = verify_person.national_id;
    IF NOT FOUND THEN
      outcome := 'not-found';
    ELSE
      answer.found := true;
      IF full_name IS NOT NULL THEN
        SELECT n.name_key INTO known_name FROM population.person_name n
        WHERE n.national_id = known.national_id AND n.superseded_at IS NULL
        ORDER BY n.valid_from <= day DESC,
                 CASE WHEN n.valid_from <= day THEN n.valid_from END DESC NULLS LAST,
                 n.valid_from
        LIMIT 1;
        answer.full_name_match := coalesce(verification_peer.name_key(full_name) = known_name,
                                           false);
      END IF;
      IF birth_date IS NOT NULL THEN
        answer.birth_date_match := birth_date = known.birth_date;
      END IF;
      IF sex IS NOT NULL THEN
        answer.sex_match := lower(sex) = known.sex;
      END IF;
      answer.match := coalesce(answer.full_name_match, true)
                      AND coalesce(answer.birth_date_match, true)
                      AND coalesce(answer.sex_match, true);
      IF answer.match THEN
        answer.status := CASE WHEN known.death_date <= day THEN 'DECEASED' ELSE 'ALIVE' END;
      END IF;
      outcome := CASE WHEN answer.match THEN 'match' ELSE 'mismatch' END;
    END IF;
  END IF;
  PERFORM audit.record_access(ARRAY[answer.reference], ARRAY[verification_peer.client_id()],
                              ARRAY['verifyPerson'], ARRAY[left(national_id, 64)],
                              ARRAY[outcome]);
  RETURN answer;
END
$$;

CREATE TYPE verification_peer.enterprise_verification AS (
  code text,
  found boolean,
  match boolean,
  status text,
  name_match boolean,
  legal_representative_id_match boolean,
  head_office_unit_code_match boolean,
  reference uuid
);

-- Names (Vietnamese or foreign) and the head office's commune as of the day; the
-- representatives as of the day, or of the first representative's first day before it.
CREATE FUNCTION verification_peer.verify_enterprise(
    code text, name text DEFAULT NULL, legal_representative_id text DEFAULT NULL,
    head_office_unit_code text DEFAULT NULL, as_of date DEFAULT NULL)
RETURNS verification_peer.enterprise_verification
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  day date := coalesce(as_of, current_date);
  answer verification_peer.enterprise_verification;
  first_day date;
  outcome text;
BEGIN
  IF verify_enterprise.name IS NULL AND legal_representative_id IS NULL
     AND head_office_unit_code IS NULL THEN
    RAISE EXCEPTION 'a claim states at least one field besides code';
  END IF;
  answer.code := verify_enterprise.code;
  answer.reference := gen_random_uuid();
  answer.found := false;
  answer.match := false;
  IF verify_enterprise.code !~ '^[0-9]{10}$' THEN
    outcome := 'invalid';
  ELSIF NOT EXISTS (SELECT 1 FROM enterprise.enterprise e
                    WHERE e.code = verify_enterprise.code) THEN
    outcome := 'not-found';
  ELSE
    answer.found := true;
    IF verify_enterprise.name IS NOT NULL THEN
      SELECT verification_peer.name_key(verify_enterprise.name) = n.name_key
             OR verification_peer.name_key(verify_enterprise.name)
                = verification_peer.name_key(n.foreign_name)
      INTO answer.name_match
      FROM enterprise.enterprise_name n
      WHERE n.enterprise_code = verify_enterprise.code AND n.superseded_at IS NULL
      ORDER BY n.valid_from <= day DESC,
               CASE WHEN n.valid_from <= day THEN n.valid_from END DESC NULLS LAST,
               n.valid_from
      LIMIT 1;
      answer.name_match := coalesce(answer.name_match, false);
    END IF;
    IF legal_representative_id IS NOT NULL THEN
      SELECT min(r.valid_from) INTO first_day FROM enterprise.legal_representative r
      WHERE r.enterprise_code = verify_enterprise.code AND r.superseded_at IS NULL;
      answer.legal_representative_id_match := EXISTS (
        SELECT 1 FROM enterprise.legal_representative r
        WHERE r.enterprise_code = verify_enterprise.code AND r.superseded_at IS NULL
          AND r.national_id = legal_representative_id
          AND r.valid_from <= greatest(day, first_day)
          AND (r.valid_to IS NULL OR r.valid_to > greatest(day, first_day)));
    END IF;
    IF head_office_unit_code IS NOT NULL THEN
      SELECT u.code = head_office_unit_code INTO answer.head_office_unit_code_match
      FROM enterprise.head_office h JOIN ref.admin_unit u ON u.id = h.unit_id
      WHERE h.enterprise_code = verify_enterprise.code AND h.superseded_at IS NULL
      ORDER BY h.valid_from <= day DESC,
               CASE WHEN h.valid_from <= day THEN h.valid_from END DESC NULLS LAST,
               h.valid_from
      LIMIT 1;
      answer.head_office_unit_code_match := coalesce(answer.head_office_unit_code_match, false);
    END IF;
    answer.match := coalesce(answer.name_match, true)
                    AND coalesce(answer.legal_representative_id_match, true)
                    AND coalesce(answer.head_office_unit_code_match, true);
    IF answer.match THEN
      SELECT upper(s.status) INTO answer.status FROM enterprise.enterprise_status s
      WHERE s.enterprise_code = verify_enterprise.code AND s.superseded_at IS NULL
      ORDER BY s.valid_from <= day DESC,
               CASE WHEN s.valid_from <= day THEN s.valid_from END DESC NULLS LAST,
               s.valid_from
      LIMIT 1;
      answer.status := coalesce(answer.status, 'ACTIVE');
    END IF;
    outcome := CASE WHEN answer.match THEN 'match' ELSE 'mismatch' END;
  END IF;
  PERFORM audit.record_access(ARRAY[answer.reference], ARRAY[verification_peer.client_id()],
                              ARRAY['verifyEnterprise'], ARRAY[left(verify_enterprise.code, 64)],
                              ARRAY[outcome]);
  RETURN answer;
END
$$;
