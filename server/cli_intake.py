"""``optout intake``: the free-text intake's model and a local way to try it.

``export`` turns a downloaded MobileBERT SQuAD v2 checkpoint (SafeTensors only) into the
ONNX fp32 + INT8 model directory the server reads (``INTAKE_MODEL_DIR``); ``train-tiny``
makes a small model to try everything without a download; ``propose`` runs a message through
the same engine as ``POST /api/v1/intake``; ``gateway-token`` makes the mail gateway's secret.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

EXPORT_HINT = "this command needs the export extra: pip install 'optout[export]'"


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group()
def intake() -> None:
    """Free-text intake: export the QA model, try messages, make the gateway token.

    \b
    Example:
      optout intake export ./mobilebert-uncased-squad-v2 ./instance/intake-model
      optout intake propose "please remove my repo tiny-http on GitHub, I am mkowalski"
    """


@intake.command("export")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option("--name", default=None, help="Name recorded in the manifest (default: folder).")
def export_command(checkpoint: Path, model_dir: Path, name: str | None):
    """Convert a SafeTensors MobileBERT QA checkpoint to ONNX fp32 and INT8.

    CHECKPOINT is a local folder with config.json and model.safetensors (pickled
    pytorch_model.bin files are refused, never loaded; nothing is downloaded). MODEL_DIR
    receives model.onnx, model.int8.onnx and intake.json with their SHA-256; point
    INTAKE_MODEL_DIR at it.

    \b
    Example:
      optout intake export ./mobilebert-uncased-squad-v2 ./instance/intake-model
    """
    try:
        from shared.intake.export import ExportError, check_checkpoint, export
    except ImportError:
        _fail(EXPORT_HINT)
    try:  # before importing torch (seconds): a wrong folder fails at once
        check_checkpoint(checkpoint)
    except (ExportError, OSError) as error:
        _fail(str(error))
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        _fail(EXPORT_HINT)
    try:
        export(checkpoint, model_dir, name, report=lambda line: click.echo(line, err=True))
    except (ExportError, OSError) as error:
        _fail(str(error))
    click.echo(str(model_dir))


@intake.command("train-tiny")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--examples", default=3000, show_default=True, help="Synthetic messages.")
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--target",
    default=0.94,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="Held-out accuracy the weakest question must reach.",
)
@click.option("--max-steps", default=1500, show_default=True, type=click.IntRange(700))
def train_tiny_command(checkpoint: Path, examples: int, seed: int, target: float, max_steps: int):
    """Train a 2-layer MobileBERT on synthetic requests (about 20-40 s on one core).

    It is a test model: it knows the synthetic messages' phrasing, not English. Training
    goes on (up to --max-steps) until every question's held-out accuracy reaches --target;
    it exits 2 if it did not. Export it like a downloaded checkpoint.

    \b
    Example:
      optout intake train-tiny /tmp/tiny && optout intake export /tmp/tiny /tmp/tiny-onnx
    """
    try:
        from shared.intake.train_tiny import train
    except ImportError:
        _fail(EXPORT_HINT)
    try:
        result = train(
            checkpoint,
            examples,
            seed,
            target=target,
            max_steps=max_steps,
            report=lambda line: click.echo(line, err=True),
        )
    except ImportError:
        _fail(EXPORT_HINT)
    if not result.converged:
        _fail(f"the weakest question stayed below {target} after {result.steps} steps")
    click.echo(str(checkpoint))


@intake.command("propose")
@click.argument("text", default="-")
@click.option(
    "--model-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Model directory (default: INTAKE_MODEL_DIR).",
)
@click.option("--variant", type=click.Choice(["int8", "fp32"]), default=None)
@click.option("--default-host", default=None, help="Host for bare owner/name forms.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer.")
@with_appcontext
def propose_command(text, model_dir, variant, default_host, as_json):
    """Propose requests for one message (TEXT, or '-' for standard input); submit nothing.

    \b
    Example:
      optout intake propose "remove everything of the GitHub org acme-robotics"
      optout intake propose - --json < message.txt
    """
    from shared.intake import load_intake

    config = current_app.config
    message = sys.stdin.read() if text == "-" else text
    if not message.strip():
        _fail("the message is empty")
    engine = load_intake(
        model_dir or config["INTAKE_MODEL_DIR"],
        variant or config["INTAKE_MODEL_VARIANT"],
        int(config["INTAKE_THREADS"]),
        int(config["INTAKE_MAX_ANSWER_TOKENS"]),
        float(config["INTAKE_NULL_THRESHOLD"]),
    )
    try:
        result = engine.run(message.strip(), default_host)
    except ValueError as error:
        _fail(str(error))
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"mode: {result['mode']} — {result['model']['message']}")
    if not result["proposals"]:
        click.echo("no proposal: the message names nothing to remove")
    for number, proposal in enumerate(result["proposals"], start=1):
        click.echo(_describe(number, proposal))
    click.echo(result["next"])


def _describe(number: int, proposal: dict) -> str:
    if proposal["complete"]:
        head = f"{number}. {proposal['describe']} (confidence {proposal['confidence']:.2f})"
    elif proposal["exceptions"]:
        kept = ", ".join(repr(e["text"]) for e in proposal["exceptions"])
        verb = "says" if proposal["exceptions"][0]["source"] == "rule" else "keeps"
        head = f"{number}. blocked {proposal['kind'] or 'request'}: the message {verb} {kept}"
    else:
        missing = ", ".join(proposal["missing"])
        head = f"{number}. incomplete {proposal['kind'] or 'request'} (missing: {missing})"
    lines = [head]
    for key, value in proposal["fields"].items():
        lines.append(f"   {key}: {value['value']!s}  <- {value['text']!r} [{value['source']}]")
    lines.extend(f"   note: {note}" for note in proposal["notes"])
    return "\n".join(lines)


@intake.command("status")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def status_command(as_json: bool):
    """Say whether a QA model is installed and usable, or why the parser works alone.

    \b
    Example:
      OPTOUT_INTAKE_MODEL_DIR=./instance/intake-model optout intake status
    """
    from shared.intake import load_intake

    config = current_app.config
    status = load_intake(config["INTAKE_MODEL_DIR"], config["INTAKE_MODEL_VARIANT"]).model_status()
    click.echo(json.dumps(status, indent=2) if as_json else status["message"])
    if not status["available"] and config["INTAKE_MODEL_DIR"]:
        sys.exit(1)  # a model was configured and does not load: a failed check


@intake.command("gateway-token")
def gateway_token_command():
    """Make a new shared secret for the mail gateway; print it once, with its SHA-256.

    Give the token to the gateway (header X-Optout-Gateway-Token) and put only the digest
    in the server's configuration.

    \b
    Example:
      optout intake gateway-token
    """
    import hashlib

    from server.workflows.intake import GATEWAY_TOKEN_PREFIX

    token = GATEWAY_TOKEN_PREFIX + secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    click.echo(f"token (shown once): {token}")
    click.echo(f"OPTOUT_INTAKE_GATEWAY_TOKEN_SHA256={digest}")
