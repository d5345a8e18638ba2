"""The composition root: config -> database -> Matrix login -> dispatcher, outbox, schedule, sync."""
from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api import feedback_forms
from api.files import Retention
from bot.matrix import crosssign
from api import methods
from bot.config import Config, methods_of
from bot.dispatch import DispatchSettings, Dispatcher
from bot.matrix.early_sync import EarlySync
from bot.matrix.gateway import MatrixGateway
from bot.matrix.media_in import MediaDownloads
from bot.guard import RoomGuard
from bot.housekeeping import Housekeeping
from bot.outbox import OutboxSender
from bot.provision import Finding, Provisioner
from bot.router import Registry
from bot.scheduler import ScheduleRunner
from bot.syncer import SyncLoop
from storage import members, outbox
from storage.database import Database
from storage.vault import FileVault, load_key

log = logging.getLogger("kring")
HEALTH_INTERVAL = 30.0  # seconds between two checks of the homeserver and cross-signing for !status
KEYS_NOT_ENCRYPTED = ("matrix.key_passphrase is not set: the bot's cross-signing keys and its crypto store are "
                      "NOT encrypted at rest (the keys file is readable by this user only, mode 0600); set a "
                      "passphrase to encrypt them")
ANSWERS_FIRST_S = 0.5  # how long the sync loop lets a batch's answers go out before it polls again


def freeze_startup_objects() -> None:
    """What start-up built (config, Matrix client, database metadata and statements, message
    catalogue) lives as long as the process. Frozen out of the garbage collector, it is no longer
    walked by every full collection, which otherwise now and then holds up a command for some
    milliseconds (seen in bench/latency.py's p99). Called once the bot runs, not in tests, which
    start and stop many bots in one process."""
    gc.collect()
    gc.freeze()


def give_back_freed_memory() -> None:
    """What the start freed (the first sync's parsed response above all) stays in the C heap, counted
    in the resident set, until it is handed back to the system: glibc's malloc_trim does that, some
    2 MiB of the idle RSS. Elsewhere there is nothing to do."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def make_vault(config: Config) -> FileVault:
    """The encrypted file store: its key from files.key, else derived from matrix.key_passphrase,
    else one kept in a file beside it (and a warning)."""
    files, folder = config.files, config.files_path
    passphrase = config.matrix.key_passphrase.get_secret_value() if config.matrix.key_passphrase else None
    key, kept_in_file = load_key(files.key.get_secret_value() if files.key else None, folder.parent / "files.key",
                                 passphrase=passphrase)
    if kept_in_file:
        log.warning("neither files.key nor matrix.key_passphrase is set: the key that encrypts kept files is in a "
                    "file beside them", extra={"keys_file": str(folder.parent / "files.key")})
    return FileVault(folder / "kept", key, files.max_bytes)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def kring_version() -> str:
    try:
        return version("kring")
    except PackageNotFoundError:
        return "dev"


class Kring:
    """One running bot. start() brings every part up; stop() takes them down in order."""

    def __init__(self, config: Config, clock: Callable[[], datetime] = utcnow, *,
                 early_sync: EarlySync | None = None) -> None:
        self.config = config
        self.clock = clock
        self.version = kring_version()
        self.started_at = clock()
        self.db = Database(config.storage.database_url)
        self.gateway = MatrixGateway(config.matrix, early_sync)
        self.vault = make_vault(config)
        retention = Retention(after_session=timedelta(days=config.cases.keep_days_after_session),
                              unscheduled=timedelta(days=config.cases.keep_days_unscheduled),
                              warn_before=timedelta(days=config.cases.warn_days_before))
        self.downloads = MediaDownloads(config.matrix.homeserver, lambda: self.gateway.client.access_token,
                                        config.files_path / "incoming")
        self.registry = Registry.load()
        fb = config.feedback
        feedback_forms.configure(delay=timedelta(hours=fb.delay_hours), deadline_days=fb.deadline_days,
                                 nudges=fb.nudges, forms_dir=fb.forms_dir)
        methods.use(methods_of(config))  # checked by load_config: a bad one stops the start with its entry
        self.gateway.room_event_types = frozenset(self.registry.declared.room_events)
        self.cross_signing: crosssign.CrossSigningStatus | None = None
        self.outbox = OutboxSender(self.db, self.gateway, clock, encrypt_dms=config.matrix.encryption,
                                   retry_max_s=config.matrix.retry_max_seconds, vault=self.vault)
        self.schedule = ScheduleRunner(
            self.db, self.registry.jobs, clock, catch_up=timedelta(hours=config.bot.schedule_catch_up_hours),
            language=config.bot.language, prefix=config.bot.command_prefix, on_commit=self.outbox.wake,
            declared=self.registry.declared, vault=self.vault, retention=retention, submit=self.outbox.submit,
            withdrawing=self.outbox.held.withdrawing,
        )
        self.outbox.on_schedule = self.schedule.wake  # a room made: its follow-up job runs at once
        self.dispatcher = Dispatcher(
            self.db, self.registry,
            DispatchSettings(bot_user_id=config.matrix.user_id, prefix=config.bot.command_prefix,
                             language=config.bot.language,
                             max_age=timedelta(seconds=config.bot.command_max_age_seconds)),
            runtime=self, clock=clock, on_commit=self._committed,
            vault=self.vault, retention=retention, fetch=self.downloads.fetch,
            withdrawing=self.outbox.held.withdrawing,
        )
        self.sync = SyncLoop(self.gateway, self.db, self.dispatcher, clock,
                             language=config.bot.language, on_commit=self.outbox.wake,
                             answers_out=lambda: self.outbox.settled(ANSWERS_FIRST_S),
                             answers_going=self.outbox.until_idle,
                             retry_max_s=config.matrix.retry_max_seconds)
        self.sync.watchers.append(RoomGuard(
            self.db, config.matrix.user_id, clock, language=config.bot.language,
            prefix=config.bot.command_prefix, on_commit=self.outbox.wake))
        self.housekeeping = Housekeeping(self.db, clock, keep_sent=timedelta(days=config.storage.keep_sent_days))
        self.provisioned: list[Finding] = []
        self._tasks: list[asyncio.Task] = []
        self._stopping = asyncio.Event()
        self._network_health = {"homeserver": False, "cross_signed": False}

    def _committed(self, schedule_changed: bool, items: list) -> None:
        self.outbox.submit(items)
        if schedule_changed:
            self.schedule.wake()

    async def start(self) -> None:
        """Once logged in, the first sync (the longest wait of a start: the full state of every
        room) is fetched while the rest starts: cross-signing the device, provisioning, the
        schedule. Its commands are handled once start() is done. The database is readied while
        the bot logs in."""
        database = asyncio.create_task(self._ready_database(), name="database")
        try:
            await self.gateway.login()
        finally:
            await database  # never left half-migrated, even when the login failed
        self.dispatcher.settings.bot_display_name = self.gateway.display_name
        beside_sync = crosssign.device_keys_uploaded(self.gateway.client)
        if not beside_sync:
            # The device's keys did not go up at login: cross-signing uploads them, and the
            # sync's key work must not upload them beside it.
            await self._cross_sign()
        sync = asyncio.create_task(self.sync.run(), name="sync")
        try:
            checks = self._cross_sign_then_check() if beside_sync else self._check_network()
            await asyncio.gather(self._provision(), checks)
            await self.schedule.start()
        except BaseException:
            self.sync.stop()
            await asyncio.gather(sync, return_exceptions=True)
            raise
        self._tasks = [
            asyncio.create_task(self.outbox.run(), name="outbox"),
            sync,
            asyncio.create_task(self._watch_network(), name="health"),
            asyncio.create_task(self.housekeeping.run(), name="housekeeping"),
        ]
        self.sync.started.set()
        log.info("started", extra={"version": self.version, "device_id": self.gateway.device_id,
                                   "cross_signed": bool(self.cross_signing and self.cross_signing.device_signed)})

    async def _cross_sign_then_check(self) -> None:
        """The facts !status shows are checked once the device is cross-signed (a new device's
        cross-signing is still under way a few round trips after the sync began)."""
        await self._cross_sign()
        await self._check_network()

    async def _cross_sign(self) -> None:
        cfg = self.config.matrix
        passphrase = cfg.key_passphrase.get_secret_value() if cfg.key_passphrase else None
        if passphrase is None:
            log.warning(KEYS_NOT_ENCRYPTED, extra={"keys_file": str(cfg.keys_file)})
        self.cross_signing = await crosssign.ensure_cross_signed(
            self.gateway.client, keys_file=cfg.keys_file, passphrase=passphrase,
            password=cfg.password.get_secret_value() if cfg.password else None,
            recovery_key=cfg.recovery_key.get_secret_value() if cfg.recovery_key else None,
        )
        status = self.cross_signing
        log.log(logging.INFO if status.device_signed else logging.ERROR, "cross-signing",
                extra={"cross_signed": status.device_signed, "detail": status.detail})
        if status.new_recovery_key:
            recovery_file = cfg.store_path / "RECOVERY_KEY.txt"
            recovery_file.write_text(status.new_recovery_key + "\n")
            recovery_file.chmod(0o600)
            log.warning("new cross-signing keys: the recovery key was written once to a file; "
                        "store it safely and delete the file", extra={"file": str(recovery_file)})

    async def _provision(self) -> None:
        """Each network's Space and rooms (bot/provision.py); a failure is logged, not fatal."""
        try:
            self.provisioned = await Provisioner(self.db, self.gateway, self.config, self.clock).run()
        except (ConnectionError, OSError, TimeoutError):
            log.exception("could not make sure of the networks' rooms; trying again at the next start")

    async def _ready_database(self) -> None:
        await self.db.migrate()
        await self._seed_coordinators()

    async def _seed_coordinators(self) -> None:
        now = self.clock()
        async with self.db.transaction() as session:
            for network in self.config.networks or [None]:
                net_id = network.id if network else "main"
                seeds = self.config.bot.coordinators + (network.coordinators if network else [])
                for user_id in seeds:
                    if net_id not in await members.roles(session, user_id):
                        await members.set_role(session, net_id, user_id, "coordinator", now)

    async def run_forever(self) -> None:
        await self.start()
        try:
            await self.run_tasks()
        finally:
            await self.stop()

    async def run_tasks(self) -> None:
        """Until cancelled, or until a part of the bot fails (which is then raised).

        Shielded: a cancellation (Ctrl-C) must not reach the parts mid-transaction; stop() winds
        them down cooperatively instead."""
        freeze_startup_objects()
        trim = asyncio.create_task(self._trim_once_caught_up())
        try:
            await asyncio.shield(asyncio.gather(*self._tasks))
        finally:
            trim.cancel()

    async def _trim_once_caught_up(self) -> None:
        await self.sync.caught_up.wait()
        give_back_freed_memory()

    async def stop(self) -> None:
        # Sync first (no new commands), then the outbox; both finish the database work in hand.
        self.sync.stop()
        self.outbox.stop()
        self.housekeeping.stop()
        self._stopping.set()
        done, late = await asyncio.wait(self._tasks, timeout=30) if self._tasks else (set(), set())
        for task in late:
            log.error("a part of the bot did not stop in time", extra={"task": task.get_name()})
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.schedule.stop()
        await self.gateway.close()
        await self.db.close()

    # ---- Runtime facts for !status --------------------------------------------------------
    async def health(self, session: AsyncSession) -> dict[str, Any]:
        """Called inside the caller's transaction (a second one would wait for its lock), so it
        makes no network call: the homeserver and cross-signing facts come from the last check."""
        try:
            queue, database = await outbox.count_pending(session), True
        except Exception:  # noqa: BLE001 - reported, not raised
            queue, database = None, False
        return {
            "database": database,
            "homeserver": self._network_health["homeserver"],
            "queue": queue,
            "device_id": self.gateway.device_id,
            "cross_signed": self._network_health["cross_signed"],
        }

    async def _check_network(self) -> None:
        try:
            homeserver = await self.gateway.reachable()
        except Exception:  # noqa: BLE001 - reported as not reachable
            homeserver = False
        try:
            signed = await crosssign.device_is_cross_signed(self.gateway.client)
        except Exception:  # noqa: BLE001 - reported as not cross-signed
            signed = False
        self._network_health = {"homeserver": homeserver, "cross_signed": signed}

    async def _watch_network(self) -> None:
        """Refresh the network facts every HEALTH_INTERVAL seconds until stop(). No database work
        here, so a check in flight is simply abandoned when the bot stops."""
        while True:
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=HEALTH_INTERVAL)
                return
            except TimeoutError:
                pass
            check = asyncio.create_task(self._check_network())
            stopping = asyncio.create_task(self._stopping.wait())
            await asyncio.wait({check, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for task in (check, stopping):
                task.cancel()
            await asyncio.gather(check, stopping, return_exceptions=True)
