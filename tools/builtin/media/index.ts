/** The media tool servers: `artist` (generate_image), `speech` (speak), `perception` (describe_image). */
export { artistBuiltin, ARTIST_DEFAULTS } from "./artist.ts";
export { speechBuiltin, SPEECH_DEFAULTS, SPEECH_FORMATS } from "./speech.ts";
export { perceptionBuiltin, PERCEPTION_DEFAULTS } from "./perception.ts";
