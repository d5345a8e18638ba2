"""The `kring` command line: run, check-config, migrate, demo."""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from bot import logs
from bot.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kring", description="Kring, a Matrix bot for peer-learning networks")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run the bot")
    run.add_argument("--config", "-c", default="config.yaml")
    check = sub.add_parser("check-config", help="validate a config file and list every problem")
    check.add_argument("file")
    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("--config", "-c", default="config.yaml")
    demo = sub.add_parser("demo", help="local Synapse + the bot + demo accounts, all on this machine")
    demo.add_argument("--dir", default=".demo", help="where the demo keeps its data (default .demo)")
    demo.add_argument("--lang", default="en", help="the demo network's language: en, nl, nb (default en)")
    args = parser.parse_args(argv)

    if args.cmd == "check-config":
        return _check(args.file)
    if args.cmd == "demo":
        from bot.dev.demo import run_demo

        return _run_until_signal(run_demo(Path(args.dir), args.lang))
    try:
        config = load_config(args.config)
    except ConfigError as err:
        _print_problems(args.config, err)
        return 2
    logs.setup(config.bot.log_level)
    if args.cmd == "migrate":
        from storage.database import Database

        async def _migrate() -> None:
            db = Database(config.storage.database_url)
            await db.migrate()
            await db.close()

        asyncio.run(_migrate())
        print("database is up to date")
        return 0
    from bot.app import Kring

    return _run_until_signal(Kring(config).run_forever())


def _check(path: str) -> int:
    try:
        config = load_config(path)
    except ConfigError as err:
        _print_problems(path, err)
        return 2
    print(f"{path}: OK")
    keys = config.matrix.keys_file
    if config.matrix.key_passphrase:
        print(f"cross-signing keys and crypto store: encrypted at rest with matrix.key_passphrase ({keys})")
    else:
        print(f"cross-signing keys and crypto store: NOT encrypted at rest (no matrix.key_passphrase); "
              f"the keys are kept in {keys}, readable by the bot's user only (mode 0600)")
    return 0


def _print_problems(path: str, err: ConfigError) -> None:
    print(f"{path}: {len(err.problems)} problem(s)", file=sys.stderr)
    for key, message in err.problems:
        print(f"  {key}: {message}", file=sys.stderr)


def _run_until_signal(coro) -> int:  # noqa: ANN001
    """Run until the coroutine ends or SIGINT/SIGTERM arrives; then cancel it cleanly."""

    async def runner() -> int:
        task = asyncio.ensure_future(coro)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            print("\nstopped", file=sys.stderr)
        return 0

    return asyncio.run(runner())


if __name__ == "__main__":
    sys.exit(main())
