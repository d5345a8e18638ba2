// An "Element-like" Matrix member for tests: matrix-js-sdk with its Rust crypto,
// in the 'exclude insecure devices' mode (OnlySignedDevicesIsolationMode), with
// its own cross-signing set up, as a current Element Web user has.
//
// Driven by JSON lines on stdin; answers JSON lines on stdout. Logs go to
// stderr only (level from ELEMENT_MEMBER_LOG: error|warn|info|debug|silent,
// default error). Every request carries an "id"; every answer echoes it with
// {"ok": true, ...} or {"ok": false, "error": "..."}. Requests run
// concurrently, so a wait_* can be outstanding while another request runs.
//
//   {"id":1,"op":"login","homeserver":URL,"user":"@a:localhost","password":"pw",
//    "auto_join":false,"device_name":"..."}
//       -> {"user_id","device_id","cross_signing_ready":true}
//   {"id":2,"op":"create_dm","user":"@b:localhost","encrypted":true}  -> {"room_id"}
//   {"id":3,"op":"join","room":ID,"timeout_ms":30000}                -> {"room_id"}
//   {"id":4,"op":"wait_joined","room":ID,"user":UID,"timeout_ms":N}  -> {}
//   {"id":5,"op":"send","room":ID,"body":"!help"}  (or "content":{...}) -> {"event_id","encrypted"}
//   {"id":6,"op":"wait_message","room":ID,"sender":UID,"timeout_ms":N,
//    "after":EVENT_ID?,"utd_grace_ms":3000?}
//       -> {"event_id","sender","type","content","body","encrypted","decrypted",
//           "error":null|CODE,"error_detail":null|text,"shield":..., "origin_server_ts"}
//   {"id":5,"op":"send_file","room":ID,"path":FILE,"name":"case.pdf","mimetype":"application/pdf"}
//       -> {"event_id","encrypted"}  (an encrypted attachment in an encrypted room, as Element sends it)
//   {"id":7,"op":"devices","user":UID}  -> {"devices":[{"device_id","signed_by_owner",...}]}
//   {"id":8,"op":"account_data","type":"m.direct"}  -> {"content":{...}|null}
//   {"id":8,"op":"whoami"}              -> {"user_id","device_id","cross_signing_ready",...}
//   {"id":9,"op":"stop"}                -> {} and the process exits 0
//
// A timed-out wait answers {"ok":false,"error":"timeout: ...","timeout":true}.

// ---- keep stdout for the protocol only; filter and redirect every log ----
const LEVELS = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 };
const logLevel = LEVELS[(process.env.ELEMENT_MEMBER_LOG || "error").toLowerCase()] ?? LEVELS.error;
let logName = `pid ${process.pid}`;
const tag = () => `[member ${logName}]`;
function writeLog(level, args) {
    if (LEVELS[level] > logLevel) return;
    const text = args
        .map((a) => (a instanceof Error ? a.stack || String(a) : typeof a === "string" ? a : safeJson(a)))
        .join(" ");
    process.stderr.write(`${tag()} ${level}: ${text}\n`);
}
function safeJson(v) {
    try {
        return JSON.stringify(v);
    } catch {
        return String(v);
    }
}
console.log = (...a) => writeLog("info", a);
console.info = (...a) => writeLog("info", a);
console.debug = (...a) => writeLog("debug", a);
console.trace = (...a) => writeLog("debug", a);
console.warn = (...a) => writeLog("warn", a);
console.error = (...a) => writeLog("error", a);
const log = {
    debug: (...a) => writeLog("debug", a),
    info: (...a) => writeLog("info", a),
    warn: (...a) => writeLog("warn", a),
    error: (...a) => writeLog("error", a),
};

// ---- Node 20: matrix-js-sdk 43 needs Promise.withResolvers (Node 22+) ----
if (typeof Promise.withResolvers !== "function") {
    Promise.withResolvers = function withResolvers() {
        let resolve, reject;
        const promise = new this((res, rej) => {
            resolve = res;
            reject = rej;
        });
        return { promise, resolve, reject };
    };
}

// The SDK is imported only after the polyfill and console redirection.
const sdk = await import("matrix-js-sdk");
const cryptoApi = await import("matrix-js-sdk/lib/crypto-api/index.js");
const { ClientEvent, RoomEvent, RoomStateEvent, MatrixEventEvent, createClient } = sdk;
const { OnlySignedDevicesIsolationMode, DeviceIsolationModeKind, DecryptionFailureCode } = cryptoApi;

const MEGOLM = "m.megolm.v1.aes-sha2";
// Failures after which the key may still arrive (a later to-device message):
// wait up to utd_grace_ms for it. Every other failure code is final.
const MAYBE_LATER = new Set([
    DecryptionFailureCode.MEGOLM_UNKNOWN_INBOUND_SESSION_ID,
    DecryptionFailureCode.OLM_UNKNOWN_MESSAGE_INDEX,
]);

const state = {
    client: null,
    userId: null,
    password: null,
    autoJoin: false,
    log: new Map(), // roomId -> [MatrixEvent] in arrival order (live timeline only)
    consumed: new Map(), // roomId -> Set(eventId) already returned by wait_message
    waiters: new Set(), // callbacks run on anything that may change a wait's outcome
    joining: new Set(),
};

function poke() {
    for (const w of [...state.waiters]) w();
}

/** Resolve on the next poke, or after ms (a bound, never a synchronisation). */
function nextChange(ms) {
    return new Promise((resolve) => {
        const done = () => {
            clearTimeout(timer);
            state.waiters.delete(done);
            resolve();
        };
        const timer = setTimeout(done, Math.max(0, ms));
        state.waiters.add(done);
    });
}

class Timeout extends Error {}

/** Re-evaluate check() on every change until it returns a value other than undefined. */
async function waitFor(check, timeoutMs, what) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await check();
        if (v !== undefined) return v;
        const left = deadline - Date.now();
        if (left <= 0) throw new Timeout(`timeout after ${timeoutMs} ms waiting for ${what}`);
        await nextChange(left);
    }
}

function need(req, ...keys) {
    for (const k of keys) {
        if (req[k] === undefined || req[k] === null || req[k] === "") throw new Error(`missing "${k}"`);
    }
}

function client() {
    if (!state.client) throw new Error("not logged in");
    return state.client;
}

// ------------------------------------------------------------------ login
async function opLogin(req) {
    need(req, "homeserver", "user", "password");
    if (state.client) throw new Error("already logged in");
    const baseUrl = req.homeserver.replace(/\/+$/, "");
    const tmp = createClient({ baseUrl });
    const localpart = req.user.startsWith("@") ? req.user.slice(1).split(":")[0] : req.user;
    const creds = await tmp.loginRequest({
        type: "m.login.password",
        identifier: { type: "m.id.user", user: localpart },
        password: req.password,
        initial_device_display_name: req.device_name || "Element-like test member",
    });
    tmp.stopClient();
    state.userId = creds.user_id;
    logName = creds.user_id;
    state.password = req.password;
    state.autoJoin = Boolean(req.auto_join);

    const c = createClient({
        baseUrl,
        userId: creds.user_id,
        deviceId: creds.device_id,
        accessToken: creds.access_token,
        // local echoes stay out of the timeline; the remote echo lands in it in sync order
        pendingEventOrdering: "detached",
        timelineSupport: false,
    });
    state.client = c;
    wireEvents(c);

    await c.initRustCrypto({ useIndexedDB: false });
    const crypto = c.getCrypto();
    // Element Web's "exclude insecure devices": keys go only to cross-signed devices,
    // and events from devices that are not cross-signed are not decrypted.
    crypto.setDeviceIsolationMode(new OnlySignedDevicesIsolationMode());
    // Our own cross-signing (needed in that mode). The first upload of the keys
    // needs no UIA on Synapse (MSC3967); answer a password UIA otherwise.
    await crypto.bootstrapCrossSigning({ authUploadDeviceSigningKeys: uiaPassword });

    const prepared = new Promise((resolve, reject) => {
        const onSync = (s, _prev, data) => {
            if (s === "PREPARED" || s === "SYNCING") {
                c.off(ClientEvent.Sync, onSync);
                resolve();
            } else if (s === "ERROR" && !c.isInitialSyncComplete()) {
                c.off(ClientEvent.Sync, onSync);
                reject(new Error(`initial sync failed: ${data?.error?.message ?? "ERROR"}`));
            }
        };
        c.on(ClientEvent.Sync, onSync);
    });
    await c.startClient({ initialSyncLimit: 20, lazyLoadMembers: false });
    await prepared;
    const ready = await crypto.isCrossSigningReady();
    if (!ready) throw new Error("cross-signing is not ready after bootstrapCrossSigning");
    if (state.autoJoin) {
        for (const room of c.getRooms()) if (room.getMyMembership() === "invite") void autoJoin(room.roomId);
    }
    return { user_id: creds.user_id, device_id: creds.device_id, cross_signing_ready: ready };
}

async function uiaPassword(makeRequest) {
    try {
        return await makeRequest(null);
    } catch (e) {
        if (e?.httpStatus !== 401 || !e?.data?.flows) throw e;
        log.info("cross-signing upload asked for UIA; answering with the password");
        return await makeRequest({
            type: "m.login.password",
            identifier: { type: "m.id.user", user: state.userId },
            password: state.password,
            session: e.data.session,
        });
    }
}

function wireEvents(c) {
    const record = (ev, roomId) => {
        const id = ev.getId();
        if (!id || id.startsWith("~")) return; // a local echo not yet sent
        let list = state.log.get(roomId);
        if (!list) state.log.set(roomId, (list = []));
        if (!list.includes(ev)) {
            list.push(ev);
            ev.on(MatrixEventEvent.Decrypted, poke);
        }
        poke();
    };
    c.on(RoomEvent.Timeline, (ev, room, toStartOfTimeline, removed, data) => {
        if (!room || toStartOfTimeline || removed) return;
        if (data && data.liveEvent === false) return;
        record(ev, room.roomId);
    });
    // our own events: the remote echo comes down sync and updates the local echo
    c.on(RoomEvent.LocalEchoUpdated, (ev, room) => {
        if (room && ev.status === null) record(ev, room.roomId);
    });
    c.on(RoomEvent.MyMembership, (room, membership) => {
        if (membership === "invite" && state.autoJoin) void autoJoin(room.roomId);
        poke();
    });
    c.on(RoomStateEvent.Members, poke);
    c.on(RoomStateEvent.Events, poke);
    c.on(ClientEvent.Room, poke);
    c.on(ClientEvent.Sync, poke);
    c.on(ClientEvent.AccountData, poke);
}

async function autoJoin(roomId) {
    if (state.joining.has(roomId)) return;
    try {
        await joinRoom(roomId, 30000);
        log.info(`auto-joined ${roomId}`);
    } catch (e) {
        log.error(`auto-join of ${roomId} failed`, e);
    }
}

// ------------------------------------------------------------------ rooms
async function addDirect(userId, roomId) {
    const c = client();
    const cur = c.getAccountData("m.direct")?.getContent() ?? {};
    const next = { ...cur };
    // like Element's Rooms.setDMRoom: a room is a DM with one user only
    for (const k of Object.keys(next)) next[k] = (next[k] || []).filter((r) => r !== roomId);
    next[userId] = [...(next[userId] || []), roomId];
    for (const k of Object.keys(next)) if (next[k].length === 0) delete next[k];
    await c.setAccountData("m.direct", next);
    // setAccountData returns before sync echoes it: wait for the echo, so that
    // the caller (and the next DM change) sees the new map
    await waitFor(
        () => ((c.getAccountData("m.direct")?.getContent()?.[userId] ?? []).includes(roomId) ? true : undefined),
        30000,
        "m.direct to come down sync",
    );
}

async function opCreateDm(req) {
    need(req, "user");
    const c = client();
    const encrypted = req.encrypted !== false;
    const initial_state = [{ type: "m.room.guest_access", state_key: "", content: { guest_access: "can_join" } }];
    if (encrypted) initial_state.push({ type: "m.room.encryption", state_key: "", content: { algorithm: MEGOLM } });
    const opts = {
        preset: "trusted_private_chat",
        visibility: "private",
        is_direct: true,
        invite: [req.user],
        initial_state,
    };
    if (req.name) opts.name = req.name;
    const { room_id } = await c.createRoom(opts);
    await addDirect(req.user, room_id);
    // Do not hand back a room we could not yet send into correctly: wait until
    // sync has shown it joined and (if encrypted) the crypto layer knows it is.
    await waitFor(
        async () => {
            const room = c.getRoom(room_id);
            if (!room || room.getMyMembership() !== "join") return undefined;
            if (encrypted && !(await c.getCrypto().isEncryptionEnabledInRoom(room_id))) return undefined;
            return true;
        },
        req.timeout_ms ?? 30000,
        `room ${room_id} to come down sync`,
    );
    return { room_id };
}

async function joinRoom(roomId, timeoutMs) {
    const c = client();
    state.joining.add(roomId);
    try {
        const me = state.userId;
        let inviteEv = c.getRoom(roomId)?.getMember(me)?.events.member;
        if (!inviteEv || inviteEv.getContent().membership !== "invite") {
            // wait for the invite to show in sync, to learn whether it is a DM
            inviteEv = await waitFor(
                () => {
                    const room = c.getRoom(roomId);
                    const m = room?.getMember(me)?.events.member;
                    if (room && room.getMyMembership() === "join") return null;
                    if (m && m.getContent().membership === "invite") return m;
                    return undefined;
                },
                timeoutMs,
                `an invite to ${roomId}`,
            ).catch((e) => {
                if (e instanceof Timeout) return null;
                throw e;
            });
        }
        if (c.getRoom(roomId)?.getMyMembership() !== "join") await c.joinRoom(roomId);
        if (inviteEv && inviteEv.getContent().is_direct) await addDirect(inviteEv.getSender(), roomId);
        await waitFor(
            () => (c.getRoom(roomId)?.getMyMembership() === "join" ? true : undefined),
            timeoutMs,
            `our join of ${roomId} to come down sync`,
        );
    } finally {
        state.joining.delete(roomId);
    }
}

async function opJoin(req) {
    need(req, "room");
    await joinRoom(req.room, req.timeout_ms ?? 30000);
    return { room_id: req.room };
}

async function opWaitJoined(req) {
    need(req, "room", "user");
    const c = client();
    await waitFor(
        () => (c.getRoom(req.room)?.getMember(req.user)?.membership === "join" ? true : undefined),
        req.timeout_ms ?? 30000,
        `${req.user} to join ${req.room}`,
    );
    return {};
}

// ------------------------------------------------------------------ messages
async function opSend(req) {
    need(req, "room");
    const c = client();
    const content = req.content ?? { msgtype: req.msgtype || "m.text", body: String(req.body ?? "") };
    // The room (and its encryption state) must be known locally, or the SDK
    // could not encrypt for it.
    const encrypted = await waitFor(
        async () => {
            const room = c.getRoom(req.room);
            if (!room || room.getMyMembership() !== "join") return undefined;
            const stateSays = Boolean(room.currentState.getStateEvents("m.room.encryption", ""));
            const cryptoSays = await c.getCrypto().isEncryptionEnabledInRoom(req.room);
            if (stateSays && !cryptoSays) return undefined;
            return cryptoSays;
        },
        req.timeout_ms ?? 30000,
        `room ${req.room} to be joined and known`,
    );
    const { event_id } = await c.sendEvent(req.room, req.type || "m.room.message", content);
    return { event_id, encrypted };
}

// An attachment as Element encrypts it (matrix-encrypt-attachment, v2): AES-256-CTR with a
// random key and an IV whose counter half starts at zero, the SHA-256 of the ciphertext.
async function encryptAttachment(plain) {
    const { webcrypto } = await import("node:crypto");
    const key = await webcrypto.subtle.generateKey({ name: "AES-CTR", length: 256 }, true, ["encrypt", "decrypt"]);
    const iv = new Uint8Array(16);
    webcrypto.getRandomValues(iv.subarray(0, 8));
    const cipher = new Uint8Array(await webcrypto.subtle.encrypt({ name: "AES-CTR", counter: iv, length: 64 }, key, plain));
    const jwk = await webcrypto.subtle.exportKey("jwk", key);
    const sha = new Uint8Array(await webcrypto.subtle.digest("SHA-256", cipher));
    const b64 = (u8) => Buffer.from(u8).toString("base64").replace(/=+$/, "");
    return { cipher, info: { v: "v2", key: { kty: "oct", key_ops: ["encrypt", "decrypt"], alg: "A256CTR", k: jwk.k, ext: true },
                             iv: b64(iv), hashes: { sha256: b64(sha) } } };
}

async function opSendFile(req) {
    need(req, "room", "path");
    const { readFile } = await import("node:fs/promises");
    const c = client();
    const plain = new Uint8Array(await readFile(req.path));
    const name = req.name || "file";
    const mimetype = req.mimetype || "application/octet-stream";
    const encrypted = await c.getCrypto().isEncryptionEnabledInRoom(req.room);
    const content = { msgtype: "m.file", body: name, filename: name, info: { mimetype, size: plain.length } };
    if (encrypted) {
        const { cipher, info } = await encryptAttachment(plain);
        const up = await c.uploadContent(cipher, { type: "application/octet-stream", includeFilename: false });
        content.file = { ...info, url: up.content_uri, mimetype };
    } else {
        const up = await c.uploadContent(plain, { type: mimetype, name });
        content.url = up.content_uri;
    }
    const { event_id } = await c.sendEvent(req.room, "m.room.message", content);
    return { event_id, encrypted };
}

function describe(ev, shield) {
    const failed = ev.isDecryptionFailure();
    const content = ev.getContent();
    return {
        event_id: ev.getId(),
        sender: ev.getSender(),
        type: ev.getType(),
        content,
        body: failed ? null : (content.body ?? null),
        encrypted: ev.isEncrypted(),
        decrypted: ev.isEncrypted() && !failed,
        error: failed ? (ev.decryptionFailureReason ?? DecryptionFailureCode.UNKNOWN_ERROR) : null,
        error_detail: failed ? (content.body ?? null) : null,
        shield,
        origin_server_ts: ev.getTs(),
    };
}

async function shieldOf(ev) {
    if (!ev.isEncrypted() || ev.isDecryptionFailure()) return null;
    try {
        const info = await client().getCrypto().getEncryptionInfoForEvent(ev);
        return info ? { colour: info.shieldColour, reason: info.shieldReason } : null;
    } catch (e) {
        log.warn("getEncryptionInfoForEvent failed", e);
        return null;
    }
}

async function opWaitMessage(req) {
    need(req, "room", "sender");
    const timeoutMs = req.timeout_ms ?? 30000;
    const graceMs = req.utd_grace_ms ?? 3000;
    const types = new Set(req.types ?? ["m.room.message"]);
    const deadline = Date.now() + timeoutMs;
    let consumed = state.consumed.get(req.room);
    if (!consumed) state.consumed.set(req.room, (consumed = new Set()));
    const utdSince = new Map(); // eventId -> when we first saw it fail with a maybe-later code
    const skipped = new Set(); // decrypted events that are not of a wanted type

    for (;;) {
        const list = state.log.get(req.room) ?? [];
        let start = 0;
        let anchorSeen = true;
        if (req.after) {
            const i = list.findIndex((e) => e.getId() === req.after);
            anchorSeen = i >= 0;
            start = i + 1;
        }
        let pending = false; // an earlier candidate is still settling: keep order, wait
        if (anchorSeen) {
            for (let i = start; i < list.length && !pending; i++) {
                const ev = list[i];
                const id = ev.getId();
                if (ev.getSender() !== req.sender || consumed.has(id) || skipped.has(id)) continue;
                if (ev.isEncrypted()) {
                    if (ev.isBeingDecrypted() || ev.shouldAttemptDecryption()) {
                        pending = true;
                        continue;
                    }
                    if (ev.isDecryptionFailure()) {
                        const code = ev.decryptionFailureReason;
                        if (MAYBE_LATER.has(code)) {
                            if (!utdSince.has(id)) utdSince.set(id, Date.now());
                            if (Date.now() - utdSince.get(id) < graceMs && Date.now() < deadline) {
                                pending = true;
                                continue;
                            }
                        }
                        consumed.add(id);
                        return describe(ev, null);
                    }
                }
                if (!types.has(ev.getType())) {
                    skipped.add(id);
                    continue;
                }
                consumed.add(id);
                return describe(ev, await shieldOf(ev));
            }
        }
        const now = Date.now();
        if (now >= deadline) {
            const what = req.after && !anchorSeen ? ` (event ${req.after} never seen in the room)` : "";
            throw new Timeout(`timeout after ${timeoutMs} ms waiting for a message from ${req.sender} in ${req.room}${what}`);
        }
        let wake = deadline;
        for (const t of utdSince.values()) wake = Math.min(wake, t + graceMs);
        await nextChange(Math.max(1, wake - now));
    }
}

// ------------------------------------------------------------------ info
async function opDevices(req) {
    need(req, "user");
    const crypto = client().getCrypto();
    // Only users whose devices the crypto tracks (they share an encrypted room
    // with us, or are us) have a trust status; others are fetched once over
    // HTTP and come back with tracked false and the trust fields null.
    const map = await crypto.getUserDeviceInfo([req.user], true);
    const devices = [];
    for (const [deviceId, dev] of map.get(req.user) ?? new Map()) {
        const v = await crypto.getDeviceVerificationStatus(req.user, deviceId);
        devices.push({
            device_id: deviceId,
            display_name: dev.displayName ?? null,
            tracked: v !== null,
            signed_by_owner: v ? v.signedByOwner : null,
            cross_signing_verified: v ? v.crossSigningVerified : null,
            locally_verified: v ? v.localVerified : null,
        });
    }
    return { devices };
}

async function opAccountData(req) {
    need(req, "type");
    return { content: client().getAccountData(req.type)?.getContent() ?? null };
}

async function opWhoami() {
    const c = client();
    const crypto = c.getCrypto();
    const status = await crypto.getCrossSigningStatus();
    return {
        user_id: c.getUserId(),
        device_id: c.getDeviceId(),
        cross_signing_ready: await crypto.isCrossSigningReady(),
        cross_signing_status: status,
        // the mode the crypto really uses (the property rust-crypto consults when it encrypts
        // and decrypts), by its kind, not a copy of the value set at start
        isolation_mode: DeviceIsolationModeKind[crypto.deviceIsolationMode?.kind] ?? null,
    };
}

// ------------------------------------------------------------------ plumbing
function reply(obj) {
    process.stdout.write(JSON.stringify(obj) + "\n");
}

let stopping = false;
async function stop(code) {
    if (stopping) return;
    stopping = true;
    try {
        state.client?.stopClient();
    } catch (e) {
        log.warn("stopClient failed", e);
    }
    // let stdout drain before leaving
    process.stdout.write("", () => process.exit(code));
}

const OPS = {
    login: opLogin,
    create_dm: opCreateDm,
    join: opJoin,
    wait_joined: opWaitJoined,
    send: opSend,
    send_file: opSendFile,
    wait_message: opWaitMessage,
    devices: opDevices,
    account_data: opAccountData,
    whoami: opWhoami,
};

async function handle(line) {
    let req;
    try {
        req = JSON.parse(line);
    } catch {
        reply({ id: null, ok: false, error: `bad JSON: ${line.slice(0, 200)}` });
        return;
    }
    const id = req.id ?? null;
    if (req.op === "stop") {
        reply({ id, ok: true });
        await stop(0);
        return;
    }
    const fn = OPS[req.op];
    if (!fn) {
        reply({ id, ok: false, error: `unknown op ${JSON.stringify(req.op)}` });
        return;
    }
    const t0 = Date.now();
    try {
        const res = await fn(req);
        log.debug(`${req.op} done in ${Date.now() - t0} ms`);
        reply({ id, ok: true, ...res });
    } catch (e) {
        const timeout = e instanceof Timeout;
        const msg = timeout ? e.message : `${e?.name ?? "Error"}: ${e?.message ?? e}`;
        if (!timeout) log.error(`${req.op} failed: ${msg}`);
        log.debug(e);
        reply({ id, ok: false, error: msg, ...(timeout ? { timeout: true } : {}) });
    }
}

process.on("unhandledRejection", (e) => log.error("unhandled rejection", e));
process.on("uncaughtException", (e) => log.error("uncaught exception", e));

let buf = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) void handle(line);
    }
});
process.stdin.on("end", () => void stop(0));
log.info("ready");
