// @ts-check
// The `config` hook. OpenCode takes the patch only while it settles its config at start-up, so an answer is needed
// at once: the brain's last answer for the same inputs (kept on disk when the brain marks it cacheable), else the
// brain's answer within the hook's budget, else - first start while Python is set up, Python missing, a brain that
// fails - the answer shipped in the package. The brain builds its model registry from the config, so every
// (re)started brain is sent the latest copy.
import { answerKey, readAnswer, writeAnswer } from "./answer_cache.js";
import { applyPatch } from "./hooks.js";
import { BrainState } from "./brain_process.js";
import { fillMissing, shippedProviderId } from "./first_start.js";

/** @typedef {"cache" | "brain" | "shipped" | "none"} AnswerSource */

/** Whether a patch adds any provider model: one that adds none (catalogue unreachable, no key) must not be replayed. @param {any} patch */
function addsModels(patch) {
  const providers = patch?.provider;
  return Boolean(providers && typeof providers === "object" && Object.values(providers).some((p) => p?.models && Object.keys(p.models).length > 0));
}

/** Whether OpenCode's config has models for the provider the plugin configures. @param {any} cfg */
function hasModels(cfg) {
  const models = cfg?.provider?.[shippedProviderId() ?? ""]?.models;
  return Boolean(models && typeof models === "object" && Object.keys(models).length > 0);
}

/**
 * @param {{
 *   brain: import("./brain_process.js").BrainProcess,
 *   budgetMs: number,
 *   keyParts: (config: any) => unknown[],
 *   notifier: import("./notify.js").Notifier,
 *   handles: (hook: string) => boolean,
 *   environmentReady: () => boolean,
 *   shippedAnswer: (config: any) => Record<string, any> | null,
 *   onSettled: (config: any, source: AnswerSource) => void,
 *   onSend?: () => void,
 * }} deps  `keyParts`: what besides the config the answer depends on (versions, the brain's options, key presence);
 *   `onSend`: called as each config goes to the brain (it changes what every answer ahead was computed from)
 */
export function createConfigHook({ brain, budgetMs, keyParts, notifier, handles, environmentReady, shippedAnswer, onSettled, onSend = () => {} }) {
  /** @type {unknown} */
  let lastConfig = null;
  let key = "";
  let inFlight = false;

  const send = () => {
    inFlight = true;
    onSend();
    return brain
      .request("config", { input: null, output: lastConfig }, budgetMs)
      .then((result) => {
        if (result && result.cacheable && addsModels(result.output)) writeAnswer(key, result.output);
        return result;
      })
      .finally(() => (inFlight = false));
  };

  brain.on("ready", () => {
    if (lastConfig !== null && !inFlight) send().catch(() => {});
  });

  /** @param {any} cfg  @returns {boolean} */
  const applyShipped = (cfg) => {
    const patch = shippedAnswer(cfg);
    if (patch) fillMissing(cfg, patch);
    return patch !== null;
  };

  /** @param {any} cfg  OpenCode's live config object, patched in place */
  return async function config(cfg) {
    /** @type {AnswerSource} */
    let source = "none";
    try {
      if (!handles("config") || !cfg || typeof cfg !== "object") return;
      lastConfig = JSON.parse(JSON.stringify(cfg));
      key = answerKey(...keyParts(cfg), lastConfig);
      const cached = brain.state === BrainState.READY ? null : readAnswer(key);
      const asked = send();
      asked.catch(() => {}); // the brain learns the config even when start-up does not wait for it
      if (cached) {
        applyPatch(cfg, cached);
        source = "cache";
      } else if (!environmentReady() || brain.state === BrainState.DEGRADED) {
        if (applyShipped(cfg)) source = "shipped";
      } else {
        const result = await asked.catch((err) => {
          notifier.warnHook("config", err);
          return null;
        });
        if (result && result.output) {
          applyPatch(cfg, result.output);
          notifier.runActions(result.actions);
          source = "brain";
          // A brain without a catalogue (endpoint down, no key) names models it cannot add: the shipped ones fill in.
          if (!hasModels(cfg) && applyShipped(cfg)) source = "shipped";
        } else if (applyShipped(cfg)) source = "shipped";
      }
    } catch (err) {
      notifier.warnHook("config", err);
    } finally {
      try {
        onSettled(cfg, source);
      } catch {}
    }
  };
}
