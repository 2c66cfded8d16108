// Parse check of LaTeX formulas with the KaTeX beside this file (the one the web pages
// serve): reads a JSON array of strings on stdin and writes a JSON array of the same
// length: "" for a formula that parses, else KaTeX's error message.
const katex = require("./katex.min.js");
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
