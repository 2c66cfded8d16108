// Parse check of LaTeX formulas with KaTeX: reads a JSON array of strings on stdin and
// writes a JSON array of the same length: "" for a formula that parses, else the error.
const katex = require("katex");
let input = "";
process.stdin.on("data", (d) => { input += d; });
process.stdin.on("end", () => {
  const out = JSON.parse(input).map((tex) => {
    try {
      katex.renderToString(tex, { displayMode: true, throwOnError: true, strict: "ignore" });
      return "";
    } catch (e) {
      return String(e.message || e);
    }
  });
  process.stdout.write(JSON.stringify(out));
});
