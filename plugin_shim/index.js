// @ts-check
// opencode-kimchi: the OpenCode plugin. Forwards hooks to the Python brain over stdio JSON-RPC and applies its
// answers. Every hook catches everything and fails open: on any error or timeout OpenCode's output stays untouched,
// except that a virtual Kimchi model is sent as the model it stands for, so a prompt never leaves Kimchi.
import { AheadAnswers, sessionOf } from "./ahead.js";
import { BrainProcess, BrainState, PROTOCOL_VERSION } from "./brain_process.js";
import { createConfigHook } from "./config_hook.js";
import { findApiKey, noKeyMessage, openCodeLogin } from "./credentials.js";
import { FIRST_START, configHasModel, firstStartPatch, shippedProviderId, standInModel } from "./first_start.js";
import { INPUT_SHAPERS, applyPatch, budgetOf, passesFilter, readFilters } from "./hooks.js";
import { makeNotifier } from "./notify.js";
import { readOptions } from "./options.js";
import { PACKAGE_VERSION } from "./package_info.js";
import { environmentReady, forgetCachedVenv, resolveBrainCommand } from "./python_env.js";
import { createStatus } from "./status.js";
import { createTools } from "./tools.js";

/** @type {Set<BrainProcess>} */
const live = new Set();
let exitHookInstalled = false;

function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // OpenCode does not always call dispose (e.g. `serve` on SIGTERM): never leave a brain behind.
  process.on("exit", () => {
    for (const brain of live) brain.killNow();
  });
}

/**
 * The options the brain's config answer depends on: how the brain is run and the hook budgets do not change it.
 * @param {Record<string, unknown>} all
 */
function answerOptions(all) {
  const { command: _command, timeouts: _timeouts, ...rest } = all;
  return rest;
}

/** The names a handshake list holds (anything that is not a string dropped). @param {unknown} list  @returns {string[]} */
function namesIn(list) {
  return Array.isArray(list) ? list.filter((item) => typeof item === "string") : [];
}

/** @param {any} input  PluginInput  @param {unknown} [rawOptions] */
async function server(input, rawOptions) {
  const notifier = makeNotifier(input?.client);
  const { options, warnings } = readOptions(rawOptions);
  for (const warning of warnings) notifier.warn(warning);
  const budget = (/** @type {string} */ hook) => budgetOf(hook, options.timeouts);
  const providerId = typeof options.brainOptions.provider === "string" ? options.brainOptions.provider : shippedProviderId() ?? "kimchi";

  const brain = new BrainProcess({
    resolveCommand: () => resolveBrainCommand(options.command, (progress) => status.progress(progress)),
    warn: notifier.warn,
  });
  const status = createStatus(notifier, brain);
  live.add(brain);
  installExitHook();

  /** What the brain's handshake said it handles; null until then (everything is tried). */
  /** @type {Set<string> | null} */
  let handled = null;
  /** Hooks the brain only observes: sent as notifications, OpenCode does not wait for them (while the brain starts,
   * the shipped list: a notification is dropped then, as a request would time out, and the next step sends it again). */
  /** @type {Set<string>} */
  let observed = new Set(FIRST_START.initialize.observed);
  /** Hooks whose calls only read the brain's state: answered ahead when an entry matches, and their requests leave the
   * session's entries in place. Input filters: a call that does not pass is not the brain's business. */
  /** @type {Set<string>} */
  let readOnly = new Set(FIRST_START.initialize.readOnly);
  let filters = FIRST_START.initialize.filters;
  /** @type {Set<string>} */
  let events = new Set();
  const handles = (/** @type {string} */ hook) => handled === null || handled.has(hook);
  const ahead = new AheadAnswers();
  /** The config OpenCode settled (our patch applied): the models a message may be sent to. */
  /** @type {any} */
  let settled = null;

  /** @param {string} hook */
  const forward = (hook) => async (/** @type {any} */ hookInput, /** @type {any} */ hookOutput) => {
    try {
      if (!handles(hook) || !passesFilter(filters[hook], hookInput)) return;
      const reads = readOnly.has(hook);
      if (reads && brain.state === BrainState.READY && ahead.answer(hook, hookInput, hookOutput)) return;
      const shape = INPUT_SHAPERS[hook];
      const params = { input: shape ? shape(hookInput) : hookInput, output: hookOutput };
      if (observed.has(hook)) return brain.notify(hook, params);
      const session = reads ? null : sessionOf(hookInput, hookOutput);
      const ticket = session === null ? 0 : ahead.sent(session);
      const result = await brain.request(hook, params, budget(hook));
      if (result && result.output) applyPatch(hookOutput, result.output);
      if (result && session !== null) ahead.answered(session, ticket, result.ahead);
      if (result) notifier.runActions(result.actions);
    } catch (err) {
      notifier.warnHook(hook, err);
    }
  };

  const forwardChatMessage = forward("chat.message");
  /** Routing by the brain; then a model OpenCode has, and a virtual model sent as the one it stands for. */
  const chatMessage = async (/** @type {any} */ hookInput, /** @type {any} */ hookOutput) => {
    const message = hookOutput?.message;
    const asked = message?.model && typeof message.model === "object" ? { ...message.model } : null;
    const routing = brain.state === BrainState.READY;
    await forwardChatMessage(hookInput, hookOutput);
    try {
      if (!asked) return;
      if (!configHasModel(settled, message.model)) message.model = asked; // never a model OpenCode does not have
      const standIn = standInModel(settled, message.model);
      if (!standIn) return;
      message.model = { ...message.model, modelID: standIn };
      if (!routing) status.notActive(asked, standIn);
    } catch {}
  };

  const { tools, register: registerTools } = createTools(brain, notifier, (sessionID) => ahead.sent(sessionID));

  /** @type {Record<string, any>} */
  const hooks = {
    tool: tools,
    config: createConfigHook({
      brain,
      budgetMs: budget("config"),
      keyParts: (cfg) => [PACKAGE_VERSION, answerOptions(options.brainOptions), findApiKey(options.brainOptions, cfg, providerId)?.source ?? "no key"],
      notifier,
      handles,
      onSend: () => ahead.clear(),
      environmentReady: () => environmentReady(options.command),
      shippedAnswer: (cfg) => firstStartPatch(cfg, options.brainOptions, findApiKey(options.brainOptions, cfg, providerId)?.key ?? null),
      onSettled: (cfg, source) => {
        settled = cfg;
        if (source === "shipped") status.shippedAnswerUsed();
        if (!findApiKey(options.brainOptions, cfg, providerId) && !openCodeLogin(providerId)) {
          status.noKey(noKeyMessage(providerId), source !== "brain");
        }
      },
    }),
    "chat.message": chatMessage,
    event: async (/** @type {any} */ arg) => {
      try {
        const event = arg?.event;
        if (event && events.has(event.type)) brain.notify("event", { event });
      } catch {}
    },
    dispose: async () => {
      try {
        // Stays in `live` until stopped: a host that exits right after calling dispose still takes the brain along.
        await brain.request("shutdown", {}, 500).catch(() => {});
        brain.stop();
        live.delete(brain);
      } catch {}
    },
  };

  // Hooks fire while the brain starts: register those this package's brain handles (shipped with the package). OpenCode
  // looks a hook up on this object each time it fires, so hooks the running brain lists are added when it answers.
  for (const hook of FIRST_START.initialize.hooks) if (!(hook in hooks)) hooks[hook] = forward(hook);
  brain.on("ready", (result) => {
    ahead.reset(result.ahead); // a new brain: what the last one answered ahead describes a state it no longer has
    handled = new Set(namesIn(result.hooks));
    observed = new Set(namesIn(result.observed));
    readOnly = new Set(namesIn(result.readOnly));
    filters = readFilters(result.filters);
    events = new Set(Array.isArray(result.events) ? result.events : []);
    for (const hook of handled) if (!(hook in hooks)) hooks[hook] = forward(hook);
    registerTools(result.tools);
    status.ready();
  });
  brain.on("degraded", (reason) => {
    ahead.reset();
    // A brain that never got through its handshake from a cached environment: the environment is likely broken.
    const rebuild = !brain.everReady && forgetCachedVenv(brain.command);
    const next = rebuild ? " Its Python environment will be rebuilt at the next start." : "";
    notifier.toast(`Routing is off for this session: ${reason}.${next} Details in the OpenCode log and the brain log.`, "warning");
  });
  // Subscribed before the start: the brain may push actions right after its handshake reply, in the same chunk.
  // A notification also says the brain's state changed outside any request (PROTOCOL.md): answers ahead are dropped.
  brain.on("actions", (actions) => {
    ahead.clear();
    notifier.runActions(actions);
  });

  brain
    .start({
      protocolVersion: PROTOCOL_VERSION,
      shimVersion: PACKAGE_VERSION,
      options: options.brainOptions,
      directory: input?.directory ?? "",
      worktree: input?.worktree ?? "",
    })
    .catch(() => {});
  return hooks;
}

export default { id: "opencode-kimchi", server };
