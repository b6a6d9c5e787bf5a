// @ts-check
// Answers ahead (PROTOCOL.md, "Answers ahead"): a reply to a request that concerns a session may carry entries that
// answer the session's coming calls of read-only hooks, so those calls need no round trip (OpenCode awaits every hook,
// and on the first step its event loop is too busy to read a reply quickly). An entry is generic data: the calls it
// matches (`when`, `opening`), what it changes (`output`, `append`, `prefix`) and the outputs it leaves to the brain
// (`unless`). Entries never outlive what they were computed from: any request for the session drops them, a reply installs its own only
// while its request is the session's latest, and the owner clears them all on a `config`, a brain notification or a
// new brain. The handshake may carry standing entries, which hold for that brain's lifetime (they depend on its options
// alone): they answer the calls of any session that no entry of its own answers, and calls without a session (a tool's
// definition), and are dropped only with the brain.
import { applyPatch, isPlainObject, valueAt } from "./hooks.js";

export const MAX_SESSIONS = 64; // sessions whose entries are kept; the least recently used beyond this are dropped
export const MAX_ENTRIES = 16; // entries kept per session (the brain sends a few)

/**
 * @typedef {{path: string[], value: string | number | boolean | null}} Condition
 * @typedef {{path: string[], needles: string[]}} Needles
 * @typedef {{hook: string, when: Condition[], unless: Needles[], opening: Needles[], output: Record<string, any> | null,
 *   append: [string, any[]][], prefix: [string, string][]}} Entry
 * @typedef {{latest: number, entries: Entry[]}} Session
 */

/** @param {unknown} v */
function isScalar(v) {
  return v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean";
}

/** The session a hook call concerns: its input's `sessionID`, else its output message's (the brain reads the same).
 * @param {any} input  @param {any} output  @returns {string | null} */
export function sessionOf(input, output) {
  const direct = isPlainObject(input) ? input.sessionID : undefined;
  if (typeof direct === "string" && direct) return direct;
  const message = isPlainObject(output) ? output.message : undefined;
  const nested = isPlainObject(message) ? message.sessionID : undefined;
  return typeof nested === "string" && nested ? nested : null;
}

/** An entry as sent, checked and read once; null when it is malformed (it is then ignored: the call asks).
 * @param {unknown} raw  @returns {Entry | null} */
export function readEntry(raw) {
  if (!isPlainObject(raw) || typeof raw.hook !== "string" || !isPlainObject(raw.when)) return null;
  const when = [];
  for (const [path, value] of Object.entries(raw.when)) {
    if (!isScalar(value)) return null;
    when.push({ path: path.split("."), value });
  }
  const unless = readNeedles(raw.unless);
  const opening = readNeedles(raw.opening);
  if (!unless || !opening) return null;
  if (raw.output !== undefined && !isPlainObject(raw.output)) return null;
  /** @type {[string, any[]][]} */
  const append = [];
  if (raw.append !== undefined) {
    if (!isPlainObject(raw.append)) return null;
    for (const [key, items] of Object.entries(raw.append)) {
      if (!Array.isArray(items)) return null;
      append.push([key, items]);
    }
  }
  /** @type {[string, string][]} */
  const prefix = [];
  if (raw.prefix !== undefined) {
    if (!isPlainObject(raw.prefix)) return null;
    for (const [key, text] of Object.entries(raw.prefix)) {
      if (typeof text !== "string") return null;
      prefix.push([key, text]);
    }
  }
  if (raw.output === undefined && raw.append === undefined && raw.prefix === undefined) return null;
  return { hook: raw.hook, when, unless, opening, output: raw.output ?? null, append, prefix };
}

/** The well-formed entries of a reply, at most `max`. @param {unknown} raw  @param {number} max  @returns {Entry[]} */
function readEntries(raw, max) {
  if (!Array.isArray(raw)) return [];
  const found = [];
  for (const item of raw.slice(0, max)) {
    const entry = readEntry(item);
    if (entry) found.push(entry);
  }
  return found;
}

/** `{<dotted path>: [strings]}` as read paths; empty when absent, null when malformed.
 * @param {unknown} raw  @returns {Needles[] | null} */
function readNeedles(raw) {
  if (raw === undefined) return [];
  if (!isPlainObject(raw)) return null;
  const found = [];
  for (const [path, needles] of Object.entries(raw)) {
    if (!Array.isArray(needles) || !needles.every((n) => typeof n === "string")) return null;
    found.push({ path: path.split("."), needles });
  }
  return found;
}

/** Whether the entry answers this call. @param {Entry} entry  @param {string} hook  @param {any} input  @param {any} output */
function matches(entry, hook, input, output) {
  if (entry.hook !== hook) return false;
  for (const { path, value } of entry.when) if (valueAt(input, path) !== value) return false;
  for (const { path, needles } of entry.unless) {
    const found = valueAt(output, path);
    const strings = typeof found === "string" ? [found] : Array.isArray(found) ? found.filter((s) => typeof s === "string") : [];
    if (strings.some((s) => needles.some((needle) => s.includes(needle)))) return false;
  }
  for (const { path, needles } of entry.opening) {
    const found = valueAt(output, path);
    const first = Array.isArray(found) ? found[0] : found;
    if (typeof first !== "string" || !needles.some((needle) => first.startsWith(needle))) return false;
  }
  for (const [key] of entry.append) if (!Array.isArray(isPlainObject(output) ? output[key] : undefined)) return false;
  return entry.prefix.length === 0 || isPlainObject(output);
}

export class AheadAnswers {
  constructor({ maxSessions = MAX_SESSIONS, maxEntries = MAX_ENTRIES } = {}) {
    this.maxSessions = maxSessions;
    this.maxEntries = maxEntries;
    this.nextTicket = 1;
    /** @type {Map<string, Session>} in order of use, the least recent first */
    this.sessions = new Map();
    /** @type {Entry[]} the running brain's standing entries */
    this.standing = [];
  }

  /** A new brain (or none): every entry dropped, and `entries` (its handshake's `ahead`) standing while it runs.
   * @param {unknown} [entries] */
  reset(entries) {
    this.sessions.clear();
    this.standing = readEntries(entries, this.maxEntries);
  }

  /**
   * A request concerning `sessionID` goes out: the session's entries are dropped (the request may change what they
   * were computed from) and the request becomes its latest. Returns the request's ticket for `answered`.
   * @param {string} sessionID  @returns {number}
   */
  sent(sessionID) {
    const ticket = this.nextTicket++;
    this.sessions.delete(sessionID);
    this.sessions.set(sessionID, { latest: ticket, entries: [] });
    while (this.sessions.size > this.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    return ticket;
  }

  /**
   * The reply to request `ticket` came with `entries` (the reply's `ahead`): kept when that request is still the
   * session's latest (a later request, a `clear` or an eviction since then make them stale: nothing is installed).
   * @param {string} sessionID  @param {number} ticket  @param {unknown} entries
   */
  answered(sessionID, ticket, entries) {
    const session = this.sessions.get(sessionID);
    if (!session || session.latest !== ticket || !Array.isArray(entries)) return;
    session.entries = readEntries(entries, this.maxEntries);
  }

  /**
   * Answer a call from the first entry it matches, the session's before the standing ones: its `output` patch
   * applied, its `append` items pushed onto the output's arrays and its `prefix` strings put in front of the output's
   * strings (a value that is not a string counts as empty). False when none matches (the call then goes by request).
   * @param {string} hook  @param {any} input  @param {any} output  @returns {boolean}
   */
  answer(hook, input, output) {
    const sessionID = sessionOf(input, output);
    const session = sessionID === null ? undefined : this.sessions.get(sessionID);
    const match = (/** @type {Entry} */ e) => matches(e, hook, input, output);
    const entry = session?.entries.find(match) ?? this.standing.find(match);
    if (!entry) return false;
    if (entry.output) applyPatch(output, structuredClone(entry.output));
    for (const [key, items] of entry.append) for (const item of structuredClone(items)) output[key].push(item);
    for (const [key, text] of entry.prefix) output[key] = text + (typeof output[key] === "string" ? output[key] : "");
    return true;
  }

  /** Drop every session's entries (a `config`, a brain notification); requests in flight install nothing. The
   * standing entries stay: they depend on the brain's options alone. */
  clear() {
    this.sessions.clear();
  }

  /** How many sessions hold state (for tests of the bound). */
  get size() {
    return this.sessions.size;
  }
}
