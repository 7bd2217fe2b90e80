/** NATS Agent Protocol 0.3 conformance of `lyra agent` (the real CLI process), section by section. */
import { conformanceSuite } from "./suite.ts";

conformanceSuite("lyra agent");
