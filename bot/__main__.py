"""The `kring` command line: run, check-config, migrate, demo.

`run` sends the bot's first sync before it imports the bot (bot/matrix/early_sync.py): hence the
imports inside the functions."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import ConfigError
    from bot.matrix.early_sync import EarlySync


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
    early_sync = _early_sync(args.config) if args.cmd == "run" else None
    from bot import logs
    from bot.config import ConfigError, load_config

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
        import asyncio

        from storage.database import Database

        async def _migrate() -> None:
            db = Database(config.storage.database_url)
            await db.migrate()
            await db.close()

        asyncio.run(_migrate())
        print("database is up to date")
        return 0
    from bot.app import Kring

    kring = Kring(config, early_sync=early_sync)
    del early_sync  # the gateway lets go of it once taken: its response is not kept for the run
    return _run_until_signal(kring.run_forever())


def _early_sync(config_path: str) -> EarlySync | None:
    from bot.matrix.early_sync import EarlySync, settings_from_file

    settings = settings_from_file(config_path)
    return EarlySync.begin(settings) if settings else None


def _check(path: str) -> int:
    from bot.config import ConfigError, load_config

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
    import asyncio
    import signal

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
