#!/usr/bin/env python3
"""Checks Crossbill's topic contract (docs/asyncapi.yaml and docs/schemas/).

  contract.py check-document [TOPIC ...]
      The AsyncAPI document parses, is version 3, names a channel for every given topic (and none
      other), every file it refers to exists, and every JSON Schema is valid.

  contract.py validate MESSAGES.jsonl
      Validates messages against the contract. One JSON object per line:
      {"topic": ..., "key": ..., "headers": {name: value}, "value": <the value as a string>}
      Each message's key, headers and value (by its ce_dataschema header) are checked against the
      schemas of its channel. Prints one line per invalid message and a count per topic; exits 1 when
      any message is invalid.

Needs PyYAML and jsonschema (Debian: python3-yaml, python3-jsonschema).
"""
import json
import pathlib
import re
import sys
import warnings

import jsonschema
import yaml

# RefResolver is deprecated in newer jsonschema releases but is what Debian's 4.10 offers.
warnings.filterwarnings("ignore", category=DeprecationWarning)

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"
SCHEMA_URN = re.compile(r"^urn:crossbill:schema:([a-z-]+):([1-9][0-9]*)$")


def load_document():
    return yaml.safe_load((DOCS / "asyncapi.yaml").read_text())


def load_schemas():
    """Every schema file by its $id."""
    schemas = {}
    for path in sorted((DOCS / "schemas").glob("*.schema.json")):
        schema = json.loads(path.read_text())
        jsonschema.Draft7Validator.check_schema(schema)
        schemas[schema["$id"]] = schema
    return schemas


def validator(schema, schemas):
    """A draft-07 validator that resolves $refs between the schema files by their $id."""
    try:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT7
    except ImportError:  # jsonschema before 4.18 (Debian 12 has 4.10)
        resolver = jsonschema.RefResolver.from_schema(schema, store=schemas)
        return jsonschema.Draft7Validator(schema, resolver=resolver)
    registry = Registry().with_resources(
        (uri, Resource(contents=contents, specification=DRAFT7)) for uri, contents in schemas.items())
    return jsonschema.Draft7Validator(schema, registry=registry)


def file_refs(node):
    """Every $ref to a file (not a #/ pointer) anywhere in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and not value.startswith("#"):
                yield value
            else:
                yield from file_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from file_refs(item)


def resolve(document, pointer):
    node = document
    for part in pointer.lstrip("#/").split("/"):
        node = node[part]
    return node


def channel_messages(document):
    """topic → [(message name, payload schema $id or None, headers schema $id)]."""
    schemas_by_file = {}
    for path in (DOCS / "schemas").glob("*.schema.json"):
        schemas_by_file[f"./schemas/{path.name}"] = json.loads(path.read_text())["$id"]
    channels = {}
    for channel in document["channels"].values():
        entries = []
        for reference in channel.get("messages", {}).values():
            message = resolve(document, reference["$ref"])
            payload = message.get("payload", {}).get("schema", {}).get("$ref")
            headers = message.get("headers", {}).get("$ref")
            entries.append((message["name"], schemas_by_file.get(payload), schemas_by_file.get(headers)))
        channels[channel["address"]] = entries
    return channels


def check_document(topics):
    problems = []
    document = load_document()
    if not str(document.get("asyncapi", "")).startswith("3."):
        problems.append(f"asyncapi version is {document.get('asyncapi')}, expected 3.x")
    try:
        load_schemas()
    except jsonschema.SchemaError as error:
        problems.append(f"invalid JSON Schema: {error.message}")
    for reference in set(file_refs(document)):
        if not (DOCS / reference).resolve().is_file():
            problems.append(f"$ref {reference} names no file")
    addresses = {channel["address"] for channel in document["channels"].values()}
    if topics:
        for topic in sorted(set(topics) - addresses):
            problems.append(f"topic {topic} has no channel")
        for address in sorted(addresses - set(topics)):
            problems.append(f"channel {address} is not a Crossbill topic")
    for operation, body in document.get("operations", {}).items():
        try:
            resolve(document, body["channel"]["$ref"])
        except (KeyError, TypeError):
            problems.append(f"operation {operation} names no channel")
    for problem in problems:
        print(problem)
    print(f"{len(addresses)} channels, {len(document.get('operations', {}))} operations, {len(problems)} problems")
    return 1 if problems else 0


def validate(path):
    document = load_document()
    schemas = load_schemas()
    channels = channel_messages(document)
    key_pattern = re.compile(document["components"]["messageBindings"]["customerKey"]["kafka"]["key"]["pattern"])
    counts, invalid = {}, 0
    for number, line in enumerate(pathlib.Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        message = json.loads(line)
        topic, headers = message["topic"], message.get("headers", {})
        counts[topic] = counts.get(topic, 0) + 1
        problems = []
        if topic not in channels:
            problems.append("no channel for this topic")
        else:
            if not key_pattern.match(message.get("key") or ""):
                problems.append(f"key {message.get('key')!r} is not <organization id>/<external customer id>")
            entries = channels[topic]
            for header_schema in {entry[2] for entry in entries if entry[2]}:
                problems += [f"headers: {error.message}" for error in validator(schemas[header_schema], schemas).iter_errors(headers)]
            payloads = {entry[1] for entry in entries if entry[1]}
            if payloads:
                schema_id = headers.get("ce_dataschema", "urn:crossbill:schema:billing-event:1" if topic == "billing.events" else "")
                found = SCHEMA_URN.match(schema_id)
                if not found or schema_id not in payloads:
                    problems.append(f"ce_dataschema {schema_id!r} is not a schema of this channel: {sorted(payloads)}")
                else:
                    try:
                        value = json.loads(message["value"])
                    except ValueError as error:
                        problems.append(f"value is not JSON: {error}")
                    else:
                        for error in validator(schemas[schema_id], schemas).iter_errors(value):
                            where = "/".join(str(part) for part in error.absolute_path) or "(value)"
                            problems.append(f"{where}: {error.message}")
        if problems:
            invalid += 1
            print(f"line {number} ({topic}): " + "; ".join(problems))
    for topic in sorted(counts):
        print(f"{topic}\t{counts[topic]}")
    print(f"{sum(counts.values())} messages, {invalid} invalid")
    return 1 if invalid else 0


def main(arguments):
    if len(arguments) >= 1 and arguments[0] == "check-document":
        return check_document(arguments[1:])
    if len(arguments) == 2 and arguments[0] == "validate":
        return validate(arguments[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
