"""Study-level checks that come before any run: the JSON schema, and the study's name.

Pure Python, no torch. ``ablate.study.expand.expand_study`` runs both and reports every
problem at once, each naming the offending key. The schema file (``config.schema.yaml``
beside this module) states the study's structure; its per-key part is generated here from
the dataclasses (``ablate.spec.validation``), so no key's type or range is written twice.
"""

from __future__ import annotations

import re
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import yaml

from ablate.spec.config import SECTIONS, VARIANT_SECTIONS, StatusRules
from ablate.spec.validation import BOUNDS, bounds_words, section_schema
from ablate.study.execution import DEVICES

# The schema ships inside the package (package data), so an installed ablate finds it too.
SCHEMA = resources.files("ablate.study") / "config.schema.yaml"

# The study name is a path component: results/<study>/ and reports/<study>.html. A slug
# cannot climb out of results/ ('..', '/'), needs no shell quoting, and is no option flag.
STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
STUDY_NAME_MAX = 100  # far below the 255-byte file name limit, with ".html" added
# Names results/ already uses; compared in lower case for case-insensitive file systems.
RESERVED_STUDY_NAMES = {
    "runs": "results/runs/ is the run cache every study shares",
    "readme.md": "results/README.md is a file of the repository",
}


def study_schema(schema_path: Traversable = SCHEMA) -> dict:
    """The study's JSON schema: the file's structure, the generated per-key part added."""
    schema = yaml.safe_load(schema_path.read_text())
    schema["properties"]["device"]["enum"] = list(DEVICES)
    sections = {name: section_schema(name, cls) for name, cls in SECTIONS.items()}
    schema["$defs"] = {
        **sections,
        "status": section_schema("status", StatusRules),
        "sections": {
            "type": "object",
            "additionalProperties": False,
            "properties": {name: {"$ref": f"#/$defs/{name}"} for name in VARIANT_SECTIONS},
        },
        "dotted_key": {
            "type": "string",
            "pattern": f"^({'|'.join(VARIANT_SECTIONS)})\\.[a-z_0-9]+$",
        },
    }
    return schema


def schema_errors(config: dict, schema_path: Traversable = SCHEMA) -> list[str]:
    """All JSON-schema violations, each with the path of the offending key."""
    import jsonschema  # imported here: only the validating caller pays for it

    validator = jsonschema.Draft202012Validator(study_schema(schema_path))
    errors = []
    for err in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path))):
        path = [str(p) for p in err.absolute_path]
        key = ".".join(path) or "<top level>"
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            # name the misspelled key itself, and what it could have been
            valid = sorted(err.schema.get("properties", {}))
            for extra in sorted(set(err.instance) - set(valid)):
                key = ".".join([*path, extra])
                errors.append(f"{key}: unknown key; valid keys here: {', '.join(valid)}")
            continue
        if err.validator == "enum":  # a registry name or a device: list the valid ones
            valid = ", ".join(map(str, err.validator_value))
            errors.append(f"{key}={err.instance!r} is not a known name; valid: {valid}")
            continue
        if err.validator in BOUNDS:  # the same words as the checks of a single value
            errors.append(f"{key}={err.instance!r} must {bounds_words(err.schema)}")
            continue
        errors.append(f"{key}: {err.message}")
    return errors


def study_name_errors(name: Any) -> list[str]:
    """Why ``study`` cannot name the study's output paths (empty if it can)."""
    if not isinstance(name, str):
        return []  # the schema reports the wrong type
    rule = (
        "it names results/<study>/ and reports/<study>.html, so it must start with a letter "
        "or digit and hold only letters, digits, '_', '.' and '-', with no '..'"
    )
    if not STUDY_NAME.fullmatch(name) or ".." in name:
        return [f"study={name!r} is not a safe name: {rule}"]
    if len(name) > STUDY_NAME_MAX:
        return [f"study={name!r} is too long: {len(name)} characters, at most {STUDY_NAME_MAX}"]
    if name.lower() in RESERVED_STUDY_NAMES:
        return [f"study={name!r} is reserved: {RESERVED_STUDY_NAMES[name.lower()]}"]
    return []
