/**
 * bx.js: a dependency-free client for bx (and any FOAM2 box peer) over WebSocket.
 *
 * It speaks FOAM2's box wire protocol (tests/data/spec/foam/README.md): every frame is one
 * `foam.box.Message` in a WebSocket text frame. Works in browsers and in Node 20+ (pass a
 * WebSocket class in the options, or run Node with --experimental-websocket; Node 22 has one).
 *
 * @example
 *   import { connect, BxError } from './bx.js';
 *   const conn = connect('ws://127.0.0.1:7300/', { timeout: 5000 });
 *   await conn.call('calc', 'add', [1, 2]);                   // 3
 *   const calc = conn.service('calc');  await calc.add(1, 2); // the same through a stub
 *   conn.notify('calc', 'notify', ['hi']);                    // one-way
 *   const box = conn.export({ tick(n) { console.log(n); } }); // callable by the server
 *   await conn.call('calc', 'countdown', [box, 3]);           // tick(3), tick(2), tick(1); 3
 *   const todos = conn.dao('todos');                          // a DAO (docs/dao.md)
 *   await todos.select({ where: M.eq('done', false), orderBy: '-priority', limit: 10 });
 *   conn.close();
 *
 * @module bx
 */

const MESSAGE = 'foam.box.Message';
const SUB_BOX_MESSAGE = 'foam.box.SubBoxMessage';
const RPC_MESSAGE = 'foam.box.RPCMessage';
const RPC_RETURN = 'foam.box.RPCReturnMessage';
const RPC_ERROR = 'foam.box.RPCErrorMessage';
const REMOTE_EXCEPTION = 'foam.box.RemoteException';
const NO_SUCH_NAME = 'foam.box.NoSuchNameException';
const HELLO = 'foam.box.HelloMessage';
const SUB_BOX = 'foam.box.SubBox';
const RETURN_BOX = 'foam.box.ReturnBox';
const NAMED_BOX = 'foam.box.NamedBox';
const TIMESTAMP = '__Timestamp__';
const MAX_DEPTH = 64; // the nesting bx's decoder accepts by default

/**
 * Every failure bx.js reports. `code` is one of:
 * - `BX_EREMOTE`: the remote method failed (an application error); `message` is its error
 *   text, `data` the raw RPCErrorMessage data, `appCode` the service's own error code when it
 *   sent one (a name such as 'UV_ENOENT', or a number; undefined from FOAM2 services). A
 *   RemoteException's `id` (the bx runtime's errors, e.g. BX_ENOMETHOD) becomes the code
 *   instead, when it has one. Throw appError(code, text) in an export to send a code.
 * - `BX_ENOSERVICE`: no service of that name (NoSuchNameException)
 * - `BX_ETIMEDOUT`: no reply within the timeout
 * - `BX_ECANCELED`: the call's AbortSignal was aborted
 * - `BX_ECONNLOST`: the connection dropped, or could not be opened, before the reply came
 * - `BX_ECLOSED`: the connection was closed with close()
 * - `BX_EINVAL`: a bad argument (a value that cannot travel, a bad name ...)
 * - `BX_EEXIST`: export() with a name already in use
 * - `BX_EBADMSG`: the peer answered something that is not a reply
 * - `BX_ENOWEBSOCKET`: no WebSocket implementation is available
 */
export class BxError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {*} [data] the remote error's raw data, for BX_EREMOTE
   */
  constructor(code, message, data) {
    super(message);
    this.name = 'BxError';
    this.code = code;
    if (data !== undefined) this.data = data;
  }
}

/**
 * An application error for an export to throw: the caller gets BX_EREMOTE with `message` text
 * and `appCode` code (a string name such as 'UV_ENOENT' or a negative integer), as a C
 * implementation returning that code would send it.
 * @param {string|number} code
 * @param {string} message
 */
export function appError(code, message) {
  const e = new BxError('BX_EREMOTE', message);
  e.appCode = code;
  return e;
}

/** The `code` field of an RPCErrorMessage as bx.js reports it, or undefined. */
function appCodeOf(answer) {
  const c = answer.code;
  if (typeof c === 'string' && c !== '') return c;
  if (Number.isInteger(c) && c < 0) return c;
  return undefined;
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isBoxRef = (v) =>
  isObject(v) && (v.class === SUB_BOX || v.class === RETURN_BOX || v.class === NAMED_BOX);
const returnBoxRef = (name) => ({ class: SUB_BOX, name, delegate: { class: RETURN_BOX } });

/**
 * JSON text written the way FOAM writes it: control characters as lower-case `\u00xx`
 * (JSON.stringify writes `\n`, `\t` ... as short escapes, which FOAM never does).
 * @param {*} wire a tree of plain JSON values
 * @returns {string}
 */
export function foamStringify(wire) {
  const short = { b: '\\u0008', f: '\\u000c', n: '\\u000a', r: '\\u000d', t: '\\u0009' };
  // Every backslash in JSON.stringify's output starts an escape, so matching pairs from the
  // left never splits one ("\\n" is an escaped backslash, then n).
  return JSON.stringify(wire).replace(/\\(.)/g, (all, c) => short[c] || all);
}

/** A box reference the peer sent (a reply box, a callback box): something you can call. */
export class RemoteBox {
  /**
   * @param {Connection} conn the connection it arrived on
   * @param {object} ref its portable form, e.g. SubBox{name, ReturnBox}
   */
  constructor(conn, ref) {
    /** @type {Connection} */ this.connection = conn;
    /** @type {object} */ this.ref = ref;
  }
  /** The name it has in the peer's registry, if it is a SubBox. */
  get name() {
    return this.ref.class === SUB_BOX ? this.ref.name : undefined;
  }
  /**
   * Calls `method` on the box and waits for the answer.
   * @param {string} method  @param {Array} [args]  @param {{timeout?: number}} [opts]
   * @returns {Promise<*>}
   */
  call(method, args = [], opts = {}) {
    return this.connection._request(this, rpc(method, args, this.connection), opts, method);
  }
  /** Calls `method` one-way: no reply box, no answer. */
  notify(method, args = []) {
    this.connection._post(this, rpc(method, args, this.connection), null);
  }
  /** Sends any payload object to the box (no reply box). @param {object} payload */
  send(payload) {
    this.connection._post(this, this.connection._toWire(payload), null);
  }
}

/** A local object exported with Connection.export(): pass it as an argument to give it out. */
export class LocalBox {
  constructor(conn, name) {
    /** @type {Connection} */ this.connection = conn;
    /** @type {string} the name in this connection's registry */ this.name = name;
  }
  /** Stops answering for this object (the same as connection.unexport(this)). */
  close() {
    this.connection.unexport(this);
  }
}

function rpc(method, args, conn) {
  if (typeof method !== 'string' || method === '')
    throw new BxError('BX_EINVAL', 'the method name must be a non-empty string');
  if (!Array.isArray(args)) throw new BxError('BX_EINVAL', 'args must be an array');
  return { class: RPC_MESSAGE, name: method, args: args.map((a) => conn._toWire(a, 1, true)) };
}

/** The text an RPCErrorMessage carries for a thrown value (FOAM2 sends "Error: boom"). */
function errorText(e) {
  if (e instanceof Error) return String(e);
  if (typeof e === 'string') return e;
  try {
    return JSON.stringify(e) ?? String(e);
  } catch {
    return String(e);
  }
}

/** The BxError for an RPCErrorMessage's data. */
function remoteError(data) {
  if (typeof data === 'string') return new BxError('BX_EREMOTE', data, data);
  if (isObject(data)) {
    const message = typeof data.message === 'string' ? data.message : JSON.stringify(data);
    const remote = data.class === REMOTE_EXCEPTION && data.id != null;
    const code = remote ? String(data.id) : 'BX_EREMOTE';
    return new BxError(code, message, data);
  }
  return new BxError('BX_EREMOTE', data == null ? 'remote error' : String(data), data);
}

/**
 * One WebSocket to a bx server and everything that travels over it. Create it with connect().
 *
 * The socket opens on the first call (or open()); after it drops, the next call opens a new
 * one. Connection attempts that fail are spaced out with exponential backoff. Events: `open`
 * and `close` (an EventTarget).
 */
export class Connection extends EventTarget {
  /**
   * @param {string} url e.g. ws://127.0.0.1:7300/
   * @param {ConnectOptions} [opts]
   */
  constructor(url, opts = {}) {
    super();
    this.url = url;
    this.timeout = opts.timeout ?? 10000;
    this._idSeed = Math.floor(Math.random() * 2 ** 32).toString(16);
    this.reconnect = opts.reconnect ?? true;
    this.backoff = { min: opts.backoff?.min ?? 250, max: opts.backoff?.max ?? 5000 };
    this.log = opts.logger ?? console;
    this._WebSocket = opts.WebSocket ?? globalThis.WebSocket;
    this._ws = null;
    this._state = 'idle'; // idle | waiting (backoff) | connecting | open | closed
    this._everOpened = false;
    this._queue = []; // frames waiting for the socket to open
    this._boxes = new Map(); // name -> handler(payload, replyBox): reply boxes and exports
    this._exports = new Map(); // name -> LocalBox
    this._calls = new Map(); // reply box name -> {reject, timer}
    this._seq = 0;
    this._failures = 0;
    this._notBefore = 0;
    this._retryTimer = null;
    this._openWaiters = [];
  }

  /** `idle`, `waiting` (backoff before reconnecting), `connecting`, `open` or `closed`. */
  get state() {
    return this._state;
  }

  /**
   * The peer's root registry, as a box: `await conn.root.call('doLookup', ['calc'])` answers
   * a RemoteBox for the service; `register` and `unregister` work the same way.
   * @type {RemoteBox}
   */
  get root() {
    return new RemoteBox(this, { class: RETURN_BOX });
  }

  /** Opens the socket now if it is not open. @returns {Promise<void>} once it is open */
  open() {
    if (this._state === 'open') return Promise.resolve();
    return new Promise((resolve, reject) => {
      this._openWaiters.push({ resolve, reject });
      try {
        this._ensureOpen();
      } catch (e) {
        this._settleOpenWaiters(e);
      }
    });
  }

  /**
   * Calls `method` of the service registered as `service` on the server.
   * @param {string} service  @param {string} method  @param {Array} [args]
   * @param {{timeout?: number, signal?: AbortSignal}} [opts] timeout in ms (0: none; default:
   *   the connection's); signal: aborting it rejects the call with BX_ECANCELED and tells the
   *   server (a cancel naming the request, which a bx skeleton turns into
   *   bx_rpc_call_canceled())
   * @returns {Promise<*>} the result (undefined for a void method); rejects with a BxError
   */
  call(service, method, args = [], opts = {}) {
    try {
      const payload = rpc(method, args, this);
      return this._request(this._serviceRef(service), payload, opts, `${service}.${method}`);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * A client of the DAO service registered as `service` (FOAM2's ClientDAO wire, docs/dao.md):
   * `put`, `find`, `remove`, `select`, `removeAll`, `listen`.
   * @param {string} service  @param {{of?: string}} [opts] the model's class (for remove(id))
   * @returns {DaoClient}
   */
  dao(service, opts = {}) {
    return new DaoClient(this, service, opts);
  }

  /** Calls `method` of `service` one-way (no reply box): fire and forget. */
  notify(service, method, args = []) {
    this._post(this._serviceRef(service), rpc(method, args, this), null);
  }

  /**
   * A stub for a service: `await conn.service('calc').add(1, 2)`. Every property is a method
   * (except `then`, so that a stub is not mistaken for a promise).
   * @param {string} service
   * @returns {Object<string, function(...*): Promise<*>>}
   */
  service(service) {
    const conn = this;
    return new Proxy(Object.create(null), {
      get(_, method) {
        if (typeof method !== 'string' || method === 'then') return undefined;
        return (...args) => conn.call(service, method, args);
      },
    });
  }

  /**
   * Makes a local object callable by the peer. Pass the returned box as an argument; the peer
   * calls its methods with RPCMessages (sync or async methods; a throw or a rejection goes back
   * as an RPCErrorMessage). Exports live until unexport() or close(), across reconnects.
   * @param {object} object  @param {{name?: string}} [opts] a fixed name (default: a fresh one)
   * @returns {LocalBox}
   */
  export(object, opts = {}) {
    if (object === null || (typeof object !== 'object' && typeof object !== 'function'))
      throw new BxError('BX_EINVAL', 'export() takes an object with methods');
    const name = opts.name ?? `x${++this._seq}`;
    if (typeof name !== 'string' || name === '') throw new BxError('BX_EINVAL', 'bad export name');
    if (this._boxes.has(name)) throw new BxError('BX_EEXIST', `the name "${name}" is taken`);
    const box = new LocalBox(this, name);
    this._exports.set(name, box);
    this._boxes.set(name, (payload, reply) => this._serve(object, payload, reply));
    return box;
  }

  /** Removes an export made with export(). @param {LocalBox|string} box */
  unexport(box) {
    const name = typeof box === 'string' ? box : box?.name;
    if (this._exports.delete(name)) this._boxes.delete(name);
  }

  /**
   * Drops the current socket (if any) as if the network had: calls in flight fail with
   * BX_ECONNLOST and a `close` event fires, but the connection stays usable: the next call
   * (or open()) opens a new socket. Exports are kept.
   */
  disconnect() {
    const ws = this._ws;
    if (!ws) return;
    this._ws = null;
    try {
      ws.close(1000);
    } catch {
      /* already closing */
    }
    this._lost(this._state === 'open', 'disconnected', false);
  }

  /** Closes the socket for good: calls in flight fail with BX_ECLOSED. */
  close() {
    if (this._state === 'closed') return;
    const ws = this._ws;
    this._state = 'closed';
    this._ws = null;
    clearTimeout(this._retryTimer);
    this._exports.clear();
    this._boxes.clear();
    this._failAll(new BxError('BX_ECLOSED', 'the connection was closed'));
    if (ws) {
      try {
        ws.close(1000);
      } catch {
        /* already closing */
      }
      this.dispatchEvent(new Event('close'));
    }
  }

  // ---- sending --------------------------------------------------------------------------------

  _serviceRef(service) {
    if (typeof service !== 'string' || service === '')
      throw new BxError('BX_EINVAL', 'the service name must be a non-empty string');
    return new RemoteBox(this, returnBoxRef(service));
  }

  /** Sends payload to target with a one-shot reply box; resolves with the answer. */
  _request(target, payload, opts, what) {
    return new Promise((resolve, reject) => {
      const name = `r${++this._seq}`;
      const timeout = opts.timeout ?? this.timeout;
      const signal = opts.signal;
      if (signal?.aborted) {
        reject(new BxError('BX_ECANCELED', `${what}: canceled`));
        return;
      }
      // With a signal the request carries a callId, and aborting sends a cancel naming it (a
      // one-way HelloMessage with attributes.cancel, as bx_call_cancel() does).
      const callId = signal ? `js.${this._idSeed}.${this._seq}` : undefined;
      const onAbort = () => {
        try {
          this._post(target, { class: HELLO }, null, { cancel: callId });
        } catch {
          /* the connection is gone: nobody to tell */
        }
        entry.reject(new BxError('BX_ECANCELED', `${what}: canceled`));
      };
      const done = () => {
        clearTimeout(entry.timer);
        signal?.removeEventListener('abort', onAbort);
        this._calls.delete(name);
        this._boxes.delete(name);
      };
      const entry = {
        timer: null,
        reject: (e) => (done(), reject(e)),
      };
      if (timeout > 0 && timeout < Infinity)
        entry.timer = setTimeout(
          () => entry.reject(new BxError('BX_ETIMEDOUT', `${what}: no reply within ${timeout} ms`)),
          timeout,
        );
      this._calls.set(name, entry);
      this._boxes.set(name, (answer) => {
        done();
        if (!isObject(answer)) reject(new BxError('BX_EBADMSG', `${what}: malformed reply`));
        else if (answer.class === RPC_RETURN)
          resolve('data' in answer ? this._fromWire(answer.data) : undefined);
        else if (answer.class === RPC_ERROR) {
          const e = remoteError(answer.data);
          const code = e.code === 'BX_EREMOTE' ? appCodeOf(answer) : undefined;
          if (code !== undefined) e.appCode = code;
          reject(e);
        }
        else if (answer.class === NO_SUCH_NAME)
          reject(new BxError('BX_ENOSERVICE', `no such service: ${answer.name}`));
        else reject(new BxError('BX_EBADMSG', `${what}: unexpected reply ${answer.class}`));
      });
      try {
        this._post(target, payload, returnBoxRef(name), callId ? { callId } : undefined);
        signal?.addEventListener('abort', onAbort, { once: true });
      } catch (e) {
        entry.reject(e);
      }
    });
  }

  /** Wraps payload for target (SubBox over ReturnBox ...) and sends it in a Message. */
  _post(target, payload, replyBox, extra) {
    let object = payload;
    for (let ref = target.ref; ref.class !== RETURN_BOX; ref = ref.delegate) {
      if (ref.class !== SUB_BOX || !isObject(ref.delegate))
        throw new BxError('BX_EINVAL', `cannot send to a ${ref.class} from here`);
      object = { class: SUB_BOX_MESSAGE, name: ref.name, object };
    }
    const attributes = replyBox ? { replyBox, ...extra } : { ...extra };
    this._sendFrame(foamStringify({ class: MESSAGE, attributes, object }));
  }

  _sendFrame(text) {
    if (this._state !== 'open') this._ensureOpen();
    if (this._state === 'open') this._ws.send(text);
    else if (this._state !== 'idle') this._queue.push(text);
    // else the attempt failed at once: _lost() has failed every call already
  }

  // ---- the socket -----------------------------------------------------------------------------

  _ensureOpen() {
    if (this._state === 'open' || this._state === 'connecting' || this._state === 'waiting') return;
    if (this._state === 'closed') throw new BxError('BX_ECLOSED', 'the connection was closed');
    if (this._everOpened && !this.reconnect)
      throw new BxError('BX_ECONNLOST', `the connection to ${this.url} was lost`);
    if (typeof this._WebSocket !== 'function')
      throw new BxError('BX_ENOWEBSOCKET', 'no WebSocket here: pass one as options.WebSocket');
    const wait = this._notBefore - Date.now();
    if (wait > 0) {
      this._state = 'waiting';
      this._retryTimer = setTimeout(() => this._openSocket(), wait);
    } else {
      this._openSocket();
    }
  }

  _openSocket() {
    this._state = 'connecting';
    let ws;
    try {
      ws = new this._WebSocket(this.url);
    } catch (e) {
      this._lost(false, `cannot connect to ${this.url}: ${e.message}`);
      return;
    }
    this._ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      if (this._ws !== ws) return;
      this._state = 'open';
      this._everOpened = true;
      this._failures = 0;
      const queue = this._queue;
      this._queue = [];
      for (const text of queue) ws.send(text);
      this._settleOpenWaiters(null);
      this.dispatchEvent(new Event('open'));
    };
    ws.onmessage = (ev) => {
      if (this._ws === ws) this._receive(ev.data);
    };
    ws.onerror = () => {}; // a close event follows
    ws.onclose = () => {
      if (this._ws !== ws) return;
      const wasOpen = this._state === 'open';
      this._ws = null;
      const why = wasOpen
        ? `the connection to ${this.url} was lost`
        : `cannot connect to ${this.url}`;
      this._lost(wasOpen, why);
    };
  }

  /** The socket closed (or never opened): every call in flight fails, never hangs. */
  _lost(wasOpen, why, failedAttempt = !wasOpen) {
    this._state = 'idle';
    if (failedAttempt) {
      this._failures++;
      const delay = Math.min(this.backoff.max, this.backoff.min * 2 ** (this._failures - 1));
      this._notBefore = Date.now() + delay;
    }
    this._failAll(new BxError('BX_ECONNLOST', why));
    if (wasOpen) this.dispatchEvent(new Event('close'));
  }

  _failAll(error) {
    this._queue = [];
    for (const entry of [...this._calls.values()]) entry.reject(error);
    this._settleOpenWaiters(error);
  }

  _settleOpenWaiters(error) {
    const waiters = this._openWaiters;
    this._openWaiters = [];
    for (const w of waiters) error ? w.reject(error) : w.resolve();
  }

  // ---- receiving ------------------------------------------------------------------------------

  _receive(data) {
    let msg;
    try {
      const text =
        typeof data === 'string' ? data : new TextDecoder('utf-8', { fatal: true }).decode(data);
      msg = JSON.parse(text);
    } catch (e) {
      this.log.warn(`bx: ignoring a frame that is not JSON: ${e.message}`);
      return;
    }
    if (!isObject(msg) || msg.class !== MESSAGE || !isObject(msg.object)) {
      this.log.warn('bx: ignoring a frame that is not a foam.box.Message');
      return;
    }
    const replyRef = isObject(msg.attributes) ? msg.attributes.replyBox : undefined;
    const reply = isBoxRef(replyRef) ? new RemoteBox(this, replyRef) : null;
    const object = msg.object;
    try {
      if (object.class === SUB_BOX_MESSAGE && typeof object.name === 'string') {
        const handler = this._boxes.get(object.name);
        if (handler) handler(object.object, reply);
        else if (reply) this._post(reply, { class: NO_SUCH_NAME, name: object.name }, null);
      } else if (object.class === HELLO) {
        // a probe: nothing to do
      } else if (object.class === RPC_MESSAGE) {
        this._serveRoot(object, reply);
      } else {
        this.log.warn(`bx: ignoring a message of class ${object.class}`);
      }
    } catch (e) {
      this.log.warn(`bx: error while handling a message: ${e.message}`);
    }
  }

  /** An RPCMessage to an exported object: call the method, answer if there is a reply box. */
  _serve(object, payload, reply) {
    const answer = (result) => {
      if (reply) this._post(reply, result, null);
    };
    const fail = (text, code) =>
      answer(code === undefined ? { class: RPC_ERROR, data: text } : { class: RPC_ERROR, data: text, code });
    if (!isObject(payload) || payload.class !== RPC_MESSAGE) {
      if (reply) fail('expected a foam.box.RPCMessage');
      else this.log.warn('bx: an export got a message that is not an RPCMessage');
      return;
    }
    const method = payload.name;
    const fn =
      typeof method === 'string' && !(method in Object.prototype) ? object[method] : undefined;
    if (typeof fn !== 'function') {
      if (reply) fail(`no such method: ${method}`);
      else this.log.warn(`bx: no such method on an export: ${method}`);
      return;
    }
    const args = Array.isArray(payload.args) ? payload.args.map((a) => this._fromWire(a)) : [];
    const ok = (value) => {
      let ret;
      try {
        ret = { class: RPC_RETURN };
        if (value !== undefined) ret.data = this._toWire(value);
      } catch (e) {
        ret = { class: RPC_ERROR, data: errorText(e) };
      }
      answer(ret);
    };
    const failed = (e) => {
      const code = e instanceof BxError ? appCodeOf({ code: e.appCode }) : undefined;
      if (reply) fail(code === undefined ? errorText(e) : e.message, code);
      else this.log.warn(`bx: one-way call ${method} failed: ${errorText(e)}`);
    };
    let result;
    try {
      result = fn.apply(object, args);
    } catch (e) {
      failed(e);
      return;
    }
    if (result && typeof result.then === 'function')
      result
        .then(ok, failed)
        .catch((e) => this.log.warn(`bx: cannot answer ${method}: ${e.message}`));
    else ok(result);
  }

  /** A bare RPCMessage: a call on this side's root registry. Only doLookup is served. */
  _serveRoot(payload, reply) {
    if (!reply) return;
    const [name] = Array.isArray(payload.args) ? payload.args : [];
    if (payload.name !== 'doLookup') {
      this._post(reply, { class: RPC_ERROR, data: `not supported here: ${payload.name}` }, null);
    } else if (this._exports.has(name)) {
      this._post(reply, { class: RPC_RETURN, data: returnBoxRef(name) }, null);
    } else {
      this._post(reply, { class: NO_SUCH_NAME, name: String(name) }, null);
    }
  }

  // ---- values ---------------------------------------------------------------------------------

  /** A JS value as wire JSON: Dates, exported boxes, class-first objects. */
  _toWire(value, depth = 0, inArray = false) {
    if (depth > MAX_DEPTH) throw new BxError('BX_EINVAL', 'value nested too deeply (or cyclic)');
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
    if (typeof value === 'number') return Number.isFinite(value) ? value : null;
    if (typeof value === 'bigint')
      return value >= Number.MIN_SAFE_INTEGER && value <= Number.MAX_SAFE_INTEGER
        ? Number(value)
        : String(value); // beyond 2^53: a decimal string, as bx does
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol')
      return inArray ? null : undefined;
    if (value instanceof Date) return { class: TIMESTAMP, value: value.getTime() };
    if (value instanceof LocalBox) {
      if (value.connection !== this || !this._exports.has(value.name))
        throw new BxError('BX_EINVAL', `box "${value.name}" is not exported on this connection`);
      return returnBoxRef(value.name);
    }
    if (value instanceof RemoteBox) {
      if (JSON.stringify(value.ref).includes(`"${RETURN_BOX}"`))
        throw new BxError('BX_EINVAL', 'a box the peer gave out cannot be passed back to it');
      return value.ref;
    }
    if (Array.isArray(value)) return value.map((v) => this._toWire(v, depth + 1, true));
    const out = {};
    if (typeof value.class === 'string') out.class = value.class; // FOAM: class comes first
    for (const [k, v] of Object.entries(value)) {
      const w = this._toWire(v, depth + 1);
      // defineProperty: a "__proto__" key stays a plain property
      const prop = { value: w, enumerable: true, writable: true, configurable: true };
      if (w !== undefined) Object.defineProperty(out, k, prop);
    }
    return out;
  }

  /** Wire JSON as JS values: timestamps become Dates, box references RemoteBoxes. */
  _fromWire(value) {
    if (Array.isArray(value)) return value.map((v) => this._fromWire(v));
    if (!isObject(value)) return value;
    if (value.class === TIMESTAMP && typeof value.value === 'number') return new Date(value.value);
    if (value.class === TIMESTAMP && typeof value.value === 'string') {
      const ms = Date.parse(value.value); // FOAM2 over TCP writes toISOString()
      if (!Number.isNaN(ms)) return new Date(ms);
    }
    if (isBoxRef(value)) return new RemoteBox(this, value);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this._fromWire(v)]));
  }
}

// ---- DAOs ----------------------------------------------------------------------------------

const NO_LIMIT = 9007199254740991; // 2^53-1: FOAM2's "no limit"
const prop = (p) =>
  typeof p === 'string' ? { class: '__Property__', name: p } : p; // a name or an mLang value
const konst = (value) => ({ class: 'foam.mlang.Constant', value });
const pred = (op, a, b) =>
  b === undefined
    ? { class: `foam.mlang.predicate.${op}`, arg1: a }
    : { class: `foam.mlang.predicate.${op}`, arg1: a, arg2: b };

/**
 * mLang builders for DAO queries (FOAM JSON): properties by name, values as constants.
 * @example M.and(M.eq('done', false), M.containsIC('title', 'milk'))
 */
export const M = {
  prop,
  eq: (p, v) => pred('Eq', prop(p), konst(v)),
  neq: (p, v) => pred('Neq', prop(p), konst(v)),
  lt: (p, v) => pred('Lt', prop(p), konst(v)),
  lte: (p, v) => pred('Lte', prop(p), konst(v)),
  gt: (p, v) => pred('Gt', prop(p), konst(v)),
  gte: (p, v) => pred('Gte', prop(p), konst(v)),
  in: (p, values) => pred('In', prop(p), konst(values)),
  contains: (p, s) => pred('Contains', prop(p), konst(s)),
  containsIC: (p, s) => pred('ContainsIC', prop(p), konst(s)),
  startsWith: (p, s) => pred('StartsWith', prop(p), konst(s)),
  startsWithIC: (p, s) => pred('StartsWithIC', prop(p), konst(s)),
  has: (p) => pred('Has', prop(p)),
  keyword: (s) => pred('Keyword', konst(s)),
  not: (p) => pred('Not', p),
  and: (...args) => ({ class: 'foam.mlang.predicate.And', args }),
  or: (...args) => ({ class: 'foam.mlang.predicate.Or', args }),
  desc: (p) => ({ class: 'foam.mlang.order.Desc', arg1: prop(p) }),
  thenBy: (head, tail) => ({ class: 'foam.mlang.order.ThenBy', head, tail }),
  count: () => ({ class: 'foam.mlang.sink.Count' }),
};

/** orderBy: 'title', '-priority', ['done', '-title'] or a comparator object. */
function comparator(order) {
  if (order === undefined || order === null) return null;
  if (typeof order === 'string') return order.startsWith('-') ? M.desc(order.slice(1)) : prop(order);
  if (Array.isArray(order)) {
    const keys = order.map(comparator).filter(Boolean);
    if (keys.length === 0) return null;
    return keys.reduceRight((tail, head) => M.thenBy(head, tail));
  }
  return order;
}

/** A DAO served over boxes (Connection.dao()). Every method returns a Promise. */
export class DaoClient {
  constructor(connection, service, opts = {}) {
    this.connection = connection;
    this.service = service;
    this.of = opts.of;
  }

  _call(method, args) {
    return this.connection.call(this.service, method, [null, ...args]);
  }

  /** Inserts or replaces by id; resolves to the stored object. */
  put(obj) {
    return this._call('put_', [obj]);
  }

  /** The object with this id, or null. */
  async find(id) {
    return (await this._call('find_', [id])) ?? null;
  }

  /** Removes by id (an object or a bare id); resolves to the removed object or null. */
  async remove(objOrId) {
    const obj =
      isObject(objOrId) ? objOrId : this.of ? { class: this.of, id: objOrId } : { id: objOrId };
    return (await this._call('remove_', [obj])) ?? null;
  }

  /**
   * Selects: resolves to the array of objects, or to the filled sink when `sink` is given
   * (e.g. M.count() gives {class, value}).
   * @param {{where?: object, orderBy?: string|Array|object, skip?: number, limit?: number,
   *   sink?: object}} [q]
   */
  async select(q = {}) {
    const sink = q.sink ?? { class: 'foam.dao.ArraySink' };
    const data = await this._call('select_', [
      sink,
      q.skip ?? 0,
      q.limit ?? NO_LIMIT,
      comparator(q.orderBy),
      q.where ?? null,
    ]);
    if (q.sink) return data;
    return Array.isArray(data?.array) ? data.array : [];
  }

  /** Removes what a select with the same query would give. */
  async removeAll(q = {}) {
    await this._call('removeAll_', [q.skip ?? 0, q.limit ?? NO_LIMIT, comparator(q.orderBy), q.where ?? null]);
  }

  /**
   * Listens for changes: handlers.put(obj), handlers.remove(obj), handlers.reset() (a
   * listener with a `where` gets reset for every change and re-selects). Resolves to an object
   * whose detach() stops the deliveries (the wire has no unsubscribe: the service drops the
   * listener when the connection closes).
   * @param {{put?: Function, remove?: Function, reset?: Function}} handlers
   * @param {{where?: object}} [opts]
   */
  async listen(handlers, opts = {}) {
    const conn = this.connection;
    const call = (name, arg) => {
      if (typeof handlers[name] === 'function') handlers[name](arg);
    };
    const box = conn.export({
      put: (o) => call('put', o),
      remove: (o) => call('remove', o),
      reset: () => call('reset'),
      eof: () => call('eof'),
    });
    try {
      await this._call('listen_', [{ class: 'foam.dao.ClientSink', delegate: box }, opts.where ?? null]);
    } catch (e) {
      conn.unexport(box);
      throw e;
    }
    return { detach: () => conn.unexport(box) };
  }
}

/**
 * @typedef {object} ConnectOptions
 * @property {number} [timeout=10000] ms before a call fails with BX_ETIMEDOUT (0: never)
 * @property {boolean} [reconnect=true] open a new socket on the next call after one dropped
 * @property {{min?: number, max?: number}} [backoff] delay before retrying after a failed
 *   connection attempt: min (250 ms) doubling per failure up to max (5000 ms)
 * @property {Function} [WebSocket] the WebSocket class (default: globalThis.WebSocket)
 * @property {{warn: Function}} [logger=console] where ignored frames are reported
 */

/**
 * A connection to a bx server (lazy: the socket opens on the first call or open()).
 * @param {string} url e.g. ws://127.0.0.1:7300/
 * @param {ConnectOptions} [opts]
 * @returns {Connection}
 */
export function connect(url, opts) {
  return new Connection(url, opts);
}
