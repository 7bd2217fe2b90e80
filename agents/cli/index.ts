// Public surface of agents/cli/: the command framework and the stop-on-signal helper every
// long-running command uses. The `lyra` executable itself is lyra.ts (it runs on import, so it is
// not listed); each command loads on demand from commands/.
export { defineCommand, runCommand, helpText, intOption, UsageError, type Command, type Options } from "./command.ts";
export { runUntilSignal, stopInOrder, DEFAULT_STOP_GRACE_MS, type RunUntilSignalOptions, type Stoppable } from "./run-until-signal.ts";
export { loadConfig, connectWithConfig, watchSignals, type StopSignals } from "./config.ts";
