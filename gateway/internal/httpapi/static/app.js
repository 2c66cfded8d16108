// The object page: equations rendered with KaTeX, and workflow buttons that run a workflow
// over /doip with its progress as server-sent events.
"use strict";

// renderMath renders every equation below root. The body of an align-like environment
// (with & and \\) is rendered inside "aligned", which KaTeX takes in display mode.
function renderMath(root) {
  if (!window.katex) return;
  root.querySelectorAll(".tex[data-tex]").forEach(function (el) {
    var tex = el.dataset.tex;
    var tries = [tex, "\\begin{aligned}" + tex + "\\end{aligned}"];
    for (var i = 0; i < tries.length; i++) {
      try {
        window.katex.render(tries[i], el, { displayMode: true, throwOnError: true, output: "htmlAndMathml" });
        el.classList.add("rendered");
        return;
      } catch (e) {
        // Try the next form; the TeX source stays visible if none renders.
      }
    }
  });
}

function equationItem(eq, srcHref, pdf) {
  var li = document.createElement("li");
  li.className = "equation";
  var num = document.createElement("span");
  num.className = "eq-number";
  if (eq.number) num.textContent = "(" + eq.number + ")";
  li.appendChild(num);
  var tex = document.createElement("span");
  tex.className = "tex";
  if (eq.latex) {
    tex.dataset.tex = eq.latex;
    var code = document.createElement("code");
    code.textContent = eq.latex;
    tex.appendChild(code);
  } else {
    tex.textContent = eq.text || "";
  }
  li.appendChild(tex);
  if (eq.page) {
    var page = document.createElement("span");
    page.className = "eq-page";
    if (srcHref && pdf) {
      var a = document.createElement("a");
      a.href = srcHref + "#page=" + eq.page;
      a.textContent = "page " + eq.page;
      page.appendChild(a);
    } else {
      page.textContent = "page " + eq.page;
    }
    li.appendChild(page);
  }
  return li;
}

function showEquations(objectId) {
  return fetch("/doip/retrieve/" + encodeURIComponent(objectId) + "/equations.json", { cache: "no-store" })
    .then(function (r) { if (!r.ok) throw new Error("equations: HTTP " + r.status); return r.json(); })
    .then(function (doc) {
      var list = document.getElementById("equation-list");
      var src = (doc.sourceComponent || "").split("/").pop();
      var href = src ? "/doip/retrieve/" + encodeURIComponent(objectId) + "/" + encodeURIComponent(src) : "";
      list.replaceChildren();
      (doc.equations || []).forEach(function (eq) {
        list.appendChild(equationItem(eq, href, doc.sourceMediaType === "application/pdf"));
      });
      document.getElementById("equations").hidden = false;
      renderMath(list);
    });
}

// readEvents calls onEvent(name, data) for each server-sent event of a fetch response.
function readEvents(resp, onEvent) {
  var reader = resp.body.getReader();
  var decoder = new TextDecoder();
  var buf = "";
  function pump() {
    return reader.read().then(function (step) {
      if (step.done) return;
      buf += decoder.decode(step.value, { stream: true });
      var i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        var block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        var name = "message", data = "";
        block.split("\n").forEach(function (line) {
          if (line.indexOf("event: ") === 0) name = line.slice(7);
          else if (line.indexOf("data: ") === 0) data += line.slice(6);
        });
        onEvent(name, data ? JSON.parse(data) : null);
      }
      return pump();
    });
  }
  return pump();
}

function runWorkflow(button) {
  var article = button.closest("article");
  var objectId = article.dataset.object;
  var workflow = button.dataset.workflow;
  var progress = document.getElementById("run-progress");
  var message = document.getElementById("run-message");
  var buttons = article.querySelectorAll("button.run");
  buttons.forEach(function (b) { b.disabled = true; });
  progress.hidden = false;
  progress.value = 0;
  message.textContent = "Starting " + workflow + "…";
  var failed = false;
  var url = "/doip?operationId=" + encodeURIComponent(workflow) + "&targetId=" + encodeURIComponent(objectId);
  var headers = { "Accept": "text/event-stream" };
  var token = document.getElementById("token");
  if (token && token.value) headers["Authorization"] = "Bearer " + token.value;
  fetch(url, { method: "POST", headers: headers })
    .then(function (resp) {
      if (!resp.ok) {
        return resp.json().then(function (e) { throw new Error(e.message || ("HTTP " + resp.status)); });
      }
      return readEvents(resp, function (name, data) {
        if (name === "progress") {
          progress.value = data.fraction || 0;
          message.textContent = data.stage + (data.message ? ": " + data.message : "");
        } else if (name === "result") {
          progress.value = 1;
          var out = data.output || {};
          var parts = [workflow + " done"];
          if (typeof out.equationCount === "number") parts.push(out.equationCount + " equations");
          if (out.cached) parts.push("from the store");
          message.textContent = parts.join(", ") + ".";
          message.dataset.state = "done";
        } else if (name === "error") {
          failed = true;
          message.textContent = workflow + " failed: " + data.message;
          message.dataset.state = "failed";
        }
      });
    })
    .then(function () {
      if (!failed && workflow === "equation_extraction") return showEquations(objectId);
    })
    .catch(function (err) {
      message.textContent = workflow + " failed: " + err.message;
      message.dataset.state = "failed";
    })
    .finally(function () {
      buttons.forEach(function (b) { b.disabled = false; });
    });
}

document.addEventListener("DOMContentLoaded", function () {
  renderMath(document);
  document.querySelectorAll("button.run").forEach(function (b) {
    b.addEventListener("click", function () { runWorkflow(b); });
  });
});
