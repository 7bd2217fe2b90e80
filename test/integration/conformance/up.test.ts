/** NATS Agent Protocol 0.3 conformance of `lyra up` (the real CLI process, conductor included), section by section. */
import { conformanceSuite } from "./suite.ts";

conformanceSuite("lyra up");
