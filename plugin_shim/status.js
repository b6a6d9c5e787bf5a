// @ts-check
// What the user is told about routing itself: setup progress, why routing is not active yet, a missing key, and when
// routing becomes active. Each at most once per process; in `opencode run`, where nobody sees toasts, the lines that
// matter go to stderr (a TUI would be drawn over).
import { BrainState } from "./brain_process.js";

export const HEADLESS_RUN = process.argv.slice(2).find((arg) => !arg.startsWith("-")) === "run";

/**
 * @param {import("./notify.js").Notifier} notifier
 * @param {import("./brain_process.js").BrainProcess} brain
 * @param {boolean} [headless]  print to stderr too
 */
export function createStatus(notifier, brain, headless = HEADLESS_RUN) {
  const told = new Set();
  let settingUp = false;
  let announceActive = false; // whether the user saw Kimchi working without routing in this process

  /**
   * @param {string} topic  @param {string} message  @param {"info" | "warning"} variant
   * @param {boolean} [inApp]  false when the brain's own answer already told the user in the app (toast and log)
   */
  const tellOnce = (topic, message, variant, inApp = true) => {
    if (told.has(topic)) return;
    told.add(topic);
    if (inApp) {
      notifier.log(variant === "warning" ? "warn" : "info", message);
      notifier.toast(message, variant);
    }
    if (headless) process.stderr.write(`${message}\n`);
  };

  const notActiveReason = () => {
    if (brain.state === BrainState.DEGRADED) return brain.degradedReason;
    if (settingUp) return "its Python environment is being set up";
    return "the routing process is still starting";
  };

  return {
    /** Progress of the Python environment. @param {import("./python_env.js").Progress} progress */
    progress({ stage, message }) {
      if (stage === "building" || stage === "waiting") {
        settingUp = true;
        announceActive = true;
      }
      notifier.log(stage === "cache-dir" ? "warn" : "info", message);
      if (stage !== "built") notifier.toast(message, stage === "cache-dir" ? "warning" : "info");
    },
    /** Kimchi was configured from the answer shipped in the package. */
    shippedAnswerUsed() {
      announceActive = true;
    },
    /** A message was sent to a virtual model's stand-in because the brain is not routing. @param {{providerID: string, modelID: string}} asked  @param {string} standIn */
    notActive(asked, standIn) {
      const why = notActiveReason();
      tellOnce("inactive", `opencode-kimchi: routing is not active yet (${why}); ${asked.providerID}/${asked.modelID} is served by ${asked.providerID}/${standIn}.`, "info");
    },
    /** @param {string} message  @param {boolean} inApp */
    noKey(message, inApp) {
      tellOnce("key", message, "warning", inApp);
    },
    /** The brain answered its handshake. */
    ready() {
      settingUp = false;
      if (!announceActive) return;
      announceActive = false;
      notifier.log("info", "opencode-kimchi: routing is active.");
      notifier.toast("Kimchi routing is active: each message now goes to the best model for it.", "success");
    },
  };
}
