// msgpackr requires 'msgpackr-extract' inside try/catch and uses its pure-JS decoder when it throws.
throw new Error("msgpackr native acceleration is not installed; msgpackr uses its pure-JS decoder");
