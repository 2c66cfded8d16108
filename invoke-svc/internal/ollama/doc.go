// Package ollama is the Ollama backend of the workflows: a small client of
// Ollama's HTTP chat API ([Client]) and, on top of it, the [Refiner] that asks a model for
// the LaTeX of the display equations the builtin PDF extraction found.
//
// # Client
//
// [New] builds a client of one Ollama server and model (its base URL with or without the
// final "/api"). [Client.Chat] posts one
// non-streaming request to {Host}/api/chat:
//
//	{"model":"qwen2.5:7b","messages":[{"role":"system","content":"…"},{"role":"user","content":"…"}],
//	 "stream":false,"format":{…JSON schema…},"options":{"temperature":0},"think":false}
//
// with "Authorization: Bearer <key>" when an API key is set (a hosted Ollama), and reads
// the non-streaming answer:
//
//	{"model":"…","created_at":"…","message":{"role":"assistant","content":"…"},
//	 "done":true,"done_reason":"stop","total_duration":…,"eval_count":…}
//
// Requests go through github.com/hashicorp/go-retryablehttp: connection errors, 429 and
// 5xx (but 501) are retried up to Options.MaxRetries times with a short, capped back-off;
// other statuses are not retried, and neither is an attempt that ran into
// Options.Timeout (the model was reached but is slow; asking again would only multiply the
// wait). Redirects are not followed. The answer body is read up to [MaxResponseBytes].
// An HTTP error is a [*StatusError] naming the status and Ollama's {"error":"…"} message.
//
// The API key is sent in the Authorization header and nowhere else: it is never logged
// (the retry library's own messages go to the logger at debug level and name only the
// method and the URL), and any error text that would contain it (say, a server that echoes
// it) shows a mask instead.
//
// # Refiner
//
// [Refiner] implements the Refiner of package workflow/equations. The PDF itself is not
// sent to the model: for each page with equations the model gets, in one request, the
// page's equations as the builtin extraction found them (an identifier per equation, the
// printed number where there is one, the text extracted from the PDF's glyphs and the
// LaTeX reconstructed from them), and a JSON schema for the answer,
// {"equations":[{"number":…,"latex":…}]}. A refiner made with [Refiner.WithRenderer] (for
// a vision model) also attaches each equation's region of the page as a PNG image
// (Ollama's "images" of the user message), rendered by [Poppler] (poppler's pdftoppm at
// [RenderDPI], cropped to the bounding box with a small margin); an equation whose region
// cannot be rendered is asked about by its text alone; invoke-svc makes such a refiner
// when OLLAMA_VISION_MODEL is set. The answer is
// checked (see [Refiner.Refine]) before it fills Equation.LaTeX; a page whose request or
// answer fails keeps the builtin result, and the note says why. The extracted text is
// untrusted input of the prompt; the model's answer is validated and only ever fills the
// LaTeX field, so a hostile PDF can at worst produce wrong LaTeX.
package ollama
