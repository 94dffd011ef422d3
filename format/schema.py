"""The JSON Schema of ``vaekit.json``, generated from :class:`~vaekit.format.contract_record.Contract`.

JavaScript clients (the browser page, the Node example) check a contract against it through
``web/contract.js``; the schema ships as an ES module, ``web/contract_schema.js``, written by::

    python -m vaekit.format.schema web/contract_schema.js

and a test holds the committed file equal to what this module generates, so a field added to
the record reaches every client. Facts a schema cannot say (``class_names`` lists
``num_classes`` names, the prior's latent size is the model's) are checked by the reader.
"""

from __future__ import annotations

import json
from typing import Any

from .cli import command_parser
from .contract import FORMAT, FORMAT_VERSION
from .contract_record import Contract
from .files import atomic_write_text
from .framing import BACKGROUNDS, CENTRES, FRAMING_METHODS
from .names import MAX_ABS_LATENT, PRECISIONS
from .prior import COVARIANCES, PRIOR_SOURCES
from .records import record_schema

HEADER = ("// vaekit.json's JSON Schema, generated from vaekit.format.Contract by\n"
          "// `python -m vaekit.format.schema web/contract_schema.js`: do not edit by hand.\n")


def _refine(schema: dict[str, Any]) -> dict[str, Any]:
    """The vocabularies the record checks in code, stated in the schema too."""
    props, defs = schema["properties"], schema["$defs"]
    props["format"]["const"] = FORMAT
    props["format_version"]["const"] = FORMAT_VERSION
    for key in ("channels", "height", "width", "latent_dim", "opset"):
        props[key]["minimum"] = 1
    props["background"]["anyOf"][0]["enum"] = list(BACKGROUNDS)
    props["num_classes"]["minimum"] = 0
    props["variants"]["anyOf"][0]["propertyNames"] = {"enum": list(PRECISIONS[1:])}
    framing = defs["Framing"]["properties"]
    framing["method"]["enum"] = list(FRAMING_METHODS)
    framing["centre"]["enum"] = list(CENTRES)
    prior = defs["PriorRecord"]["properties"]
    prior["covariance"]["anyOf"][0]["enum"] = list(COVARIANCES)
    prior["source"]["anyOf"][0]["enum"] = list(PRIOR_SOURCES)
    return schema


def contract_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``vaekit.json``."""
    defs: dict[str, Any] = {}
    root = record_schema(Contract, defs)
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"{FORMAT}/{FORMAT_VERSION}",
              "title": "vaekit.json: the export contract", **root, "$defs": dict(sorted(defs.items()))}
    return _refine(schema)


def schema_module() -> str:
    """``web/contract_schema.js``: the schema as an ES module (``export const SCHEMA``), one
    line per field of the contract and one per sub-record, so a diff shows what changed, and
    the latent bound every client applies (``export const MAX_ABS_LATENT``)."""
    schema = contract_schema()

    def one_per_line(d: dict[str, Any], indent: str) -> str:
        return "{\n" + ",\n".join(f"{indent}  {json.dumps(k)}: {json.dumps(v)}" for k, v in d.items()) + f"\n{indent}}}"

    top = {k: (one_per_line(v, "  ") if k in ("properties", "$defs") else json.dumps(v))
           for k, v in schema.items()}
    body = "{\n" + ",\n".join(f"  {json.dumps(k)}: {v}" for k, v in top.items()) + "\n}"
    bound = ("// the largest |z| any client feeds a decoder (vaekit.format.MAX_ABS_LATENT)\n"
             f"export const MAX_ABS_LATENT = {MAX_ABS_LATENT:g};\n")
    return f"{HEADER}export const SCHEMA = {body};\n{bound}"


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("python -m vaekit.format.schema", __doc__)
    parser.add_argument("out", help="the ES module to write (web/contract_schema.js)")
    args = parser.parse_args(argv)
    atomic_write_text(args.out, schema_module())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
