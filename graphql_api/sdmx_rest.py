"""The SDMX REST data endpoint: ``GET /sdmx/2.1/data/{flow}[/{key}]``.

Statistical tools fetch series without custom code: the standard's URL pattern
(``flow`` is ``ID``, ``AGENCY,ID`` or ``AGENCY,ID,VERSION``; ``key`` is dot-separated
codes, empty for any, ``+`` for alternatives, ``all`` for every series) with
``startPeriod`` and ``endPeriod``, answered in SDMX-JSON 1.0 (the default), SDMX-JSON 2.0
(``Accept: application/vnd.sdmx.data+json;version=2.0.0``) or SDMX-CSV 1.0 (``Accept:
application/vnd.sdmx.data+csv`` or ``format=csv``). ``asOf=YYYY-MM-DD``
(mdr's addition) answers as published on that day. The caller needs the ``read:macro``
scope; an answer is bounded (MAX_OBSERVATIONS), a larger one is refused with a hint.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

from graphql_api.connections import snapshot
from schemas.macro_queries import (
    BadRequest,
    FlowQuery,
    find_dataflow,
    grouped,
    key_pattern,
    observations_as_of,
    period_bounds,
    series_page,
)

SCOPE = "read:macro"
MAX_SERIES = 10_000
MAX_OBSERVATIONS = 200_000
CSV_TYPE = "application/vnd.sdmx.data+csv; version=1.0.0; charset=utf-8"
JSON_TYPE = "application/vnd.sdmx.data+json; version=1.0.0; charset=utf-8"
JSON_2_TYPE = "application/vnd.sdmx.data+json; version=2.0.0; charset=utf-8"
JSON_2_SCHEMA = ("https://raw.githubusercontent.com/sdmx-twg/sdmx-json/master/data-message/"
                 "tools/schemas/2.0.0/sdmx-json-data-schema.json")


def _error(status: int, message: str) -> Response:
    return Response(json.dumps({"errors": [{"message": message}]}), status_code=status,
                    media_type="application/json")


class SdmxData:
    """The endpoint, reading through ``engine`` (mdr_api, a replica when configured)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def __call__(self, request: Request) -> Response:
        client = request.scope.get("mdr.client")
        if client is None or SCOPE not in client.scopes:
            return _error(403, f"This client lacks the scope {SCOPE!r} needed for SDMX data.")
        params = request.query_params
        try:
            flow = FlowQuery.parse(request.path_params["flow"])
            pattern = key_pattern(request.path_params.get("key"))
            start, end = period_bounds(params.get("startPeriod"), params.get("endPeriod"))
            as_of = dt.date.fromisoformat(params["asOf"]) if params.get("asOf") else None
        except BadRequest as exc:
            return _error(400, str(exc))
        except ValueError:
            return _error(400, "asOf is not a date; write YYYY-MM-DD.")
        async with snapshot(self.engine) as conn:
            found = (await conn.execute(find_dataflow(flow))).first()
            if found is None:
                return _error(404, f"No dataflow {request.path_params['flow'][:80]!r}; list "
                              "them with the GraphQL field dataflows.")
            series = (await conn.execute(
                series_page(found.id, pattern, None, MAX_SERIES + 1))).all()
            if len(series) > MAX_SERIES:
                return _error(413, f"The key matches more than {MAX_SERIES} series; give "
                              "more of its dimensions.")
            observations = grouped((await conn.execute(observations_as_of(
                [s.id for s in series], as_of, start, end, MAX_OBSERVATIONS + 1))).all())
        if sum(len(v) for v in observations.values()) > MAX_OBSERVATIONS:
            return _error(413, f"The answer would hold more than {MAX_OBSERVATIONS} "
                          "observations; narrow the key or the periods (startPeriod, "
                          "endPeriod).")
        if not any(observations.values()):
            return _error(404, "No observations match the key and periods (NoResultsFound).")
        accept = request.headers.get("accept", "")
        if "csv" in params.get("format", "") or "csv" in accept:
            return Response(sdmx_csv(found, series, observations), media_type=CSV_TYPE)
        if _wants_json_2(accept):
            return Response(json.dumps(sdmx_json_2(found, series, observations)),
                            media_type=JSON_2_TYPE)
        return Response(json.dumps(sdmx_json(found, series, observations)),
                        media_type=JSON_TYPE)


def _wants_json_2(accept: str) -> bool:
    """Whether the Accept header asks for SDMX-JSON 2.x (``...+json;version=2.0.0``)."""
    for media in accept.split(","):
        kind, *parameters = (part.strip().lower() for part in media.split(";"))
        if kind == "application/vnd.sdmx.data+json" and any(
                p.replace(" ", "").startswith("version=2") for p in parameters):
            return True
    return False


def _flow_ref(flow: Any) -> str:
    return f"{flow.agency}:{flow.code}({flow.version})"


def _series_attributes(series: Sequence[Any]) -> list[str]:
    return sorted({k for s in series for k in (s.attributes or {})})


def sdmx_csv(flow: Any, series: Sequence[Any], observations: dict[int, list[Any]]) -> str:
    """SDMX-CSV 1.0: DATAFLOW, the dimensions, TIME_PERIOD, OBS_VALUE, then attributes."""
    dims = list(flow.dimensions)
    series_attrs = _series_attributes(series)
    obs_attrs = sorted({k for rows in observations.values() for r in rows
                        for k in (r.attributes or {})})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["DATAFLOW", *dims, "TIME_PERIOD", "OBS_VALUE", "OBS_STATUS",
                     *obs_attrs, *series_attrs])
    for s in series:
        for o in observations.get(s.id, []):
            writer.writerow([_flow_ref(flow), *(s.dimensions.get(d, "") for d in dims),
                             o.period, "" if o.value is None else repr(o.value),
                             o.status or "", *((o.attributes or {}).get(a, "")
                                               for a in obs_attrs),
                             *((s.attributes or {}).get(a, "") for a in series_attrs)])
    return out.getvalue()


def sdmx_json(flow: Any, series: Sequence[Any], observations: dict[int, list[Any]]
              ) -> dict[str, Any]:
    """SDMX-JSON 1.0 data message: series and observations index the structure's values."""
    dims = list(flow.dimensions)
    dim_values: dict[str, list[str]] = {d: [] for d in dims}
    for s in series:
        for d in dims:
            code = s.dimensions.get(d, "")
            if code not in dim_values[d]:
                dim_values[d].append(code)
    periods = sorted({o.period for rows in observations.values() for o in rows})
    period_index = {p: i for i, p in enumerate(periods)}
    statuses = sorted({o.status for rows in observations.values() for o in rows if o.status})
    status_index = {s: i for i, s in enumerate(statuses)}
    series_attrs = _series_attributes(series)
    attr_values: dict[str, list[str]] = {a: [] for a in series_attrs}
    for s in series:
        for a in series_attrs:
            value = (s.attributes or {}).get(a)
            if value is not None and value not in attr_values[a]:
                attr_values[a].append(value)
    datasets: dict[str, Any] = {}
    for s in series:
        rows = observations.get(s.id, [])
        if not rows:
            continue
        key = ":".join(str(dim_values[d].index(s.dimensions.get(d, ""))) for d in dims)
        attributes = [attr_values[a].index((s.attributes or {})[a])
                      if (s.attributes or {}).get(a) is not None else None
                      for a in series_attrs]
        datasets[key] = {"attributes": attributes, "observations": {
            str(period_index[o.period]): [o.value, status_index.get(o.status)]
            for o in rows}}
    return {
        "header": {"id": f"MDR-{flow.code}-{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}",
                   "prepared": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                   "sender": {"id": "MDR"}},
        "dataSets": [{"action": "Information", "series": datasets}],
        "structure": {
            "links": [{"rel": "dataflow",
                       "urn": "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow="
                              + _flow_ref(flow)}],
            "dimensions": {
                "series": [{"id": d, "name": d, "keyPosition": i,
                            "values": [{"id": v, "name": v} for v in dim_values[d]]}
                           for i, d in enumerate(dims)],
                "observation": [{"id": flow.time_dimension, "name": flow.time_dimension,
                                 "role": "time", "keyPosition": len(dims),
                                 "values": [{"id": p, "name": p} for p in periods]}]},
            "attributes": {
                "series": [{"id": a, "name": a,
                            "values": [{"id": v, "name": v} for v in attr_values[a]]}
                           for a in series_attrs],
                "observation": [{"id": "OBS_STATUS", "name": "OBS_STATUS",
                                 "values": [{"id": s, "name": s} for s in statuses]}]
                if statuses else []}},
    }


def sdmx_json_2(flow: Any, series: Sequence[Any], observations: dict[int, list[Any]]
                ) -> dict[str, Any]:
    """SDMX-JSON 2.0 data message: the 1.0 message's structure and data set, under
    ``meta`` and ``data`` (structures listed, each data set pointing to its own)."""
    first = sdmx_json(flow, series, observations)
    structure = first["structure"]
    structure["measures"] = {"observation": [{"id": "OBS_VALUE", "name": "OBS_VALUE"}]}
    dataset = {**first["dataSets"][0], "structure": 0}
    return {"meta": {**first["header"], "schema": JSON_2_SCHEMA},
            "data": {"structures": [structure], "dataSets": [dataset]}}
