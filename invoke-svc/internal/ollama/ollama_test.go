package ollama

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/eqextract"
	"github.com/fdo-doip/doip-gateway/shared/logtest"
)

func TestRefineEveryPage(t *testing.T) {
	t.Parallel()
	f := newRecorder(t)
	c := newClient(t, f.fakeOllama, Options{}, nil)
	in := sample()
	keep := sample()
	got, note, err := NewRefiner(c).Refine(t.Context(), []byte("%PDF-1.7"), in)
	if err != nil {
		t.Fatalf("Refine: %v (note %q)", err, note)
	}
	if want := "ollama refined 2 of 2 pages (3 equations)"; note != want {
		t.Errorf("note %q; want %q", note, want)
	}
	if !reflect.DeepEqual(in, keep) {
		t.Errorf("Refine modified its input: %+v", in)
	}
	want := sample()
	want.Equations[0].LaTeX = latexFor("1")
	want.Equations[1].LaTeX = latexFor("unnumbered-1")
	want.Equations[2].LaTeX = latexFor("2.1a")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Refine =\n%+v\nwant\n%+v", got, want)
	}
	seen := f.asked()
	if len(seen) != 2 || seen[0].page != 1 || seen[1].page != 3 {
		t.Fatalf("pages asked %+v; want 1 and 3", seen)
	}
	if !slices.Equal(seen[0].numbers, []string{"1", "unnumbered-1"}) || !slices.Equal(seen[0].texts, []string{"E = mc2", "a + b = c"}) {
		t.Errorf("page 1 asked with %q / %q", seen[0].numbers, seen[0].texts)
	}
	if !slices.Equal(seen[1].texts, []string{"∫ f(x) dx = F(b) − F(a)"}) {
		t.Errorf("page 3 asked with %q", seen[1].texts)
	}
}

func TestRefineAcceptsReorderedFencedAnswer(t *testing.T) {
	t.Parallel()
	f := newFake(t, "", func(a asked) reply {
		return chatOK("```json\n" + `{"equations":[{"number":"(unnumbered-1)","latex":"$$a+b=c$$"},{"number":"(1)","latex":"E = m c^{2} \\label{eq:e}"}]}` + "\n```")
	})
	c := newClient(t, f, Options{}, nil)
	in := sample()
	in.Equations = in.Equations[:2]
	got, note, err := NewRefiner(c).Refine(t.Context(), nil, in)
	if err != nil {
		t.Fatalf("Refine: %v (note %q)", err, note)
	}
	if got.Equations[0].LaTeX != "E = m c^{2}" || got.Equations[1].LaTeX != "a+b=c" {
		t.Errorf("LaTeX %q, %q", got.Equations[0].LaTeX, got.Equations[1].LaTeX)
	}
}

func TestChatRetriesAfter500(t *testing.T) {
	t.Parallel()
	f := newFake(t, testKey, func(a asked) reply {
		if a.call == 1 {
			return chatErr(http.StatusInternalServerError, "llama runner process has terminated")
		}
		return goodModel(a)
	})
	c := newClient(t, f, Options{}, nil)
	got, note, err := NewRefiner(c).Refine(t.Context(), nil, twoPages())
	if err != nil {
		t.Fatalf("Refine: %v (note %q)", err, note)
	}
	if n := f.calls.Load(); n != 3 {
		t.Errorf("%d requests; want 3 (one retried)", n)
	}
	for _, e := range got.Equations {
		if e.LaTeX == "" {
			t.Errorf("equation %s not refined", e.Number)
		}
	}
}

func TestChatGivesUpAfterRetries(t *testing.T) {
	t.Parallel()
	f := newFake(t, "", func(asked) reply { return chatErr(http.StatusServiceUnavailable, "server busy") })
	c := newClient(t, f, Options{MaxRetries: 1}, nil)
	_, err := c.Chat(t.Context(), ChatRequest{Messages: []Message{{Role: "system", Content: "s"}, {Role: "user", Content: "Page 1 has 1 display equations."}}, Format: answerSchema})
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 503 || se.Message != "server busy" {
		t.Fatalf("Chat error %v; want a StatusError 503 with the server's message", err)
	}
	if !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "server busy") {
		t.Errorf("error %q does not name status and message", err)
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("%d requests; want 2", n)
	}
}

func TestChat400NoRetry(t *testing.T) {
	t.Parallel()
	f := newFake(t, testKey, func(asked) reply { return chatErr(http.StatusBadRequest, `model "x" not found`) })
	c := newClient(t, f, Options{}, nil)
	got, note, err := NewRefiner(c).Refine(t.Context(), nil, twoPages())
	if err == nil {
		t.Fatal("Refine succeeded; want an error")
	}
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 400 {
		t.Errorf("error %v; want a StatusError 400", err)
	}
	if !strings.Contains(err.Error(), `model "x" not found`) || !strings.Contains(err.Error(), "400") {
		t.Errorf("error %q does not carry the status and Ollama's message", err)
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d requests; want 1 (no retry, and the next page not asked)", n)
	}
	if !strings.Contains(note, `page 1: HTTP 400 Bad Request: model "x" not found`) || !strings.Contains(note, "page 2 not asked") {
		t.Errorf("note %q", note)
	}
	if !reflect.DeepEqual(got, twoPages()) {
		t.Errorf("result changed: %+v", got)
	}
}

// failOnPage2 answers page 1 well and page 2 with content.
func failOnPage2(content func(a asked) string) func(a asked) reply {
	return func(a asked) reply {
		if a.page == 2 {
			return chatOK(content(a))
		}
		return goodModel(a)
	}
}

func TestRefinePartial(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content func(a asked) string
		note    string
	}{
		{"not JSON", func(asked) string { return "Sure! Here is the LaTeX: x_3 = y" },
			"page 2: invalid answer: not a JSON object as the schema asks"},
		{"wrong count", func(asked) string {
			return `{"equations":[{"number":"3","latex":"a"},{"number":"4","latex":"b"}]}`
		}, "page 2: invalid answer: 2 equations for 3"},
		{"unbalanced braces", func(asked) string {
			return `{"equations":[{"number":"3","latex":"\\frac{a}{b"},{"number":"4","latex":"b"},{"number":"5","latex":"c"}]}`
		}, "page 2: invalid answer: equation 3: unbalanced braces: 1 { never closed"},
		{"unknown number", func(asked) string {
			return `{"equations":[{"number":"3","latex":"a"},{"number":"4","latex":"b"},{"number":"9","latex":"c"}]}`
		}, `page 2: invalid answer: number "9" is not one of the page's`},
		{"duplicate number", func(asked) string {
			return `{"equations":[{"number":"3","latex":"a"},{"number":"(3)","latex":"b"},{"number":"5","latex":"c"}]}`
		}, `page 2: invalid answer: number "3" answered twice`},
		{"empty latex", func(asked) string {
			return `{"equations":[{"number":"3","latex":"a"},{"number":"4","latex":" $ $ "},{"number":"5","latex":"c"}]}`
		}, "page 2: invalid answer: equation 4: LaTeX is empty"},
		{"missing field", func(asked) string {
			return `{"equations":[{"number":"3","latex":"a"},{"number":"4"},{"number":"5","latex":"c"}]}`
		}, `page 2: invalid answer: entry 2 lacks "number" or "latex"`},
		{"no equations key", func(asked) string { return `{"eqs":[]}` },
			`page 2: invalid answer: no "equations" array`},
		{"trailing text", func(a asked) string { return answer(a) + " thanks" },
			"page 2: invalid answer: text after the JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, testKey, failOnPage2(tc.content))
			c := newClient(t, f, Options{}, nil)
			got, note, err := NewRefiner(c).Refine(t.Context(), nil, twoPages())
			if err != nil {
				t.Fatalf("Refine: %v; want nil with page 1 refined", err)
			}
			if want := "ollama refined 1 of 2 pages (2 equations); " + tc.note; !strings.HasPrefix(note, want) {
				t.Errorf("note\n%q\nwant\n%q", note, want)
			}
			want := twoPages()
			want.Equations[0].LaTeX, want.Equations[1].LaTeX = latexFor("1"), latexFor("2")
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Refine = %+v; want page 2 unchanged", got)
			}
			if n := f.calls.Load(); n != 2 {
				t.Errorf("%d requests; want 2 (an invalid answer is not retried)", n)
			}
		})
	}
}

func TestRefineEveryPageFails(t *testing.T) {
	t.Parallel()
	f := newFake(t, "", func(asked) reply { return chatOK("not json") })
	c := newClient(t, f, Options{}, nil)
	got, note, err := NewRefiner(c).Refine(t.Context(), nil, twoPages())
	if err == nil || !errors.Is(err, ErrInvalidAnswer) {
		t.Fatalf("Refine error %v; want one wrapping ErrInvalidAnswer", err)
	}
	if !strings.HasPrefix(note, "ollama refined 0 of 2 pages (0 equations); page 1: invalid answer") ||
		!strings.Contains(note, "; page 2: invalid answer") {
		t.Errorf("note %q", note)
	}
	if !reflect.DeepEqual(got, twoPages()) {
		t.Errorf("result changed: %+v", got)
	}
}

func TestRefineCutOffAnswer(t *testing.T) {
	t.Parallel()
	f := newFake(t, "", func(a asked) reply {
		r := chatOK(`{"equations":[{"number":"1","latex":"a`)
		r.body = strings.Replace(r.body, `"done_reason":"stop"`, `"done_reason":"length"`, 1)
		return r
	})
	c := newClient(t, f, Options{}, nil)
	_, note, err := NewRefiner(c).Refine(t.Context(), nil, twoPages())
	if err == nil || !strings.Contains(note, "cut off at the model's output limit") {
		t.Errorf("Refine = %v, %q; want an error and a note about the cut", err, note)
	}
}

func TestRefineTimeout(t *testing.T) {
	t.Parallel()
	// A server that hangs until the client goes away.
	f := &fakeOllama{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		io.Copy(io.Discard, r.Body) // so that the server notices the client leaving
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(f.srv.Close)
	c := newClient(t, f, Options{Timeout: 200 * time.Millisecond}, nil)
	got, note, err := NewRefiner(c).Refine(t.Context(), nil, twoPages())
	if err == nil {
		t.Fatalf("Refine succeeded against a hanging server (note %q)", note)
	}
	if !reflect.DeepEqual(got, twoPages()) {
		t.Errorf("result changed: %+v", got)
	}
	if !strings.Contains(note, "page 1:") {
		t.Errorf("note %q", note)
	}
	t.Logf("error: %v\nnote: %s", err, note)
}

func TestRefineCancelled(t *testing.T) {
	t.Parallel()
	f := newFake(t, "", goodModel)
	c := newClient(t, f, Options{}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	got, note, err := NewRefiner(c).Refine(ctx, nil, twoPages())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Refine error %v; want context.Canceled", err)
	}
	if want := "ollama refined 0 of 2 pages (0 equations); pages 1-2 not asked (2): the request was cancelled: context canceled"; note != want {
		t.Errorf("note %q; want %q", note, want)
	}
	if !reflect.DeepEqual(got, twoPages()) || f.calls.Load() != 0 {
		t.Errorf("result %+v after %d requests", got, f.calls.Load())
	}
}

func TestRefineEmpty(t *testing.T) {
	t.Parallel()
	f := newFake(t, "", goodModel)
	c := newClient(t, f, Options{}, nil)
	for _, in := range []eqextract.Result{{}, {Pages: 4, UncertainPages: []int{2}, Equations: []eqextract.Equation{}}} {
		got, note, err := NewRefiner(c).Refine(t.Context(), nil, in)
		if err != nil || !reflect.DeepEqual(got, in) || note == "" {
			t.Errorf("Refine(%+v) = %+v, %q, %v; want the input, a note and no error", in, got, note, err)
		}
	}
	if n := f.calls.Load(); n != 0 {
		t.Errorf("%d requests for no equations", n)
	}
}

func TestRefineTooManyEquationsOnAPage(t *testing.T) {
	t.Parallel()
	f := newFake(t, "", goodModel)
	c := newClient(t, f, Options{}, nil)
	in := twoPages()
	for i := range MaxPageEquations + 1 {
		in.Equations = append(in.Equations, eqextract.Equation{Page: 3, Text: "x = " + string(rune('a'+i%26))})
	}
	_, note, err := NewRefiner(c).Refine(t.Context(), nil, in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(note, "; page 3: 61 equations, more than the 60 asked about at once") {
		t.Errorf("note %q", note)
	}
}

func TestAPIKeyNeverLeaks(t *testing.T) {
	t.Parallel()
	f := newFake(t, testKey, func(a asked) reply {
		switch a.page {
		case 1: // a server that echoes the key in its error message
			return chatErr(http.StatusInternalServerError, "upstream rejected Bearer "+testKey)
		default: // and a model that puts it into the answer
			return chatOK(`{"equations":[{"number":"` + testKey + `","latex":"a"},{"number":"4","latex":"b"}]}`)
		}
	})
	var logs logtest.Buffer
	c := newClient(t, f, Options{MaxRetries: 1}, &logs)
	in := twoPages()
	in.Equations = in.Equations[1:4] // page 1: one equation, page 2: two
	_, note, err := NewRefiner(c).Refine(t.Context(), nil, in)
	if err == nil {
		t.Fatal("Refine succeeded")
	}
	// The requests were made with the key; it shows nowhere else.
	if f.calls.Load() != 3 {
		t.Errorf("%d requests; want 3", f.calls.Load())
	}
	for what, s := range map[string]string{"error": err.Error(), "note": note, "logs": logs.String()} {
		if strings.Contains(s, testKey) || strings.Contains(s, "5ecr3t") {
			t.Errorf("the API key appears in the %s:\n%s", what, s)
		}
	}
	if !strings.Contains(note, "upstream rejected Bearer ********") {
		t.Errorf("note %q does not show the masked message", note)
	}
	if !strings.Contains(logs.String(), "retrying request") {
		t.Errorf("logs do not show the retry library at debug level:\n%s", logs.String())
	}
	var se *StatusError
	if !errors.As(err, &se) {
		t.Errorf("error %v does not unwrap to a StatusError", err)
	}
}

func TestChatConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := New(Options{Host: "http://" + addr, Model: testModel, APIKey: testKey, MaxRetries: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.http.RetryWaitMin, c.http.RetryWaitMax = time.Millisecond, 5*time.Millisecond
	_, err = c.Chat(t.Context(), ChatRequest{Messages: []Message{{Role: "user", Content: "hi"}}})
	if err == nil || !strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), testKey) {
		t.Fatalf("Chat error %v; want a connection error without the key", err)
	}
}

func TestChatResponse(t *testing.T) {
	t.Parallel()
	f := newFake(t, "", goodModel)
	c := newClient(t, f, Options{}, nil)
	resp, err := c.Chat(t.Context(), ChatRequest{
		Messages: []Message{{Role: "system", Content: "s"}, {Role: "user", Content: "Page 7 has 1 display equations.\n" + `{"number":"1","text":"t"}`}},
		Format:   answerSchema,
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != testModel || resp.Message.Role != "assistant" || !resp.Done || resp.DoneReason != "stop" ||
		resp.EvalCount != 298 || resp.TotalDuration != 5191566416 || resp.CreatedAt.IsZero() {
		t.Errorf("response %+v", resp)
	}
	if want := `{"equations":[{"number":"1","latex":"` + strings.ReplaceAll(latexFor("1"), `\`, `\\`) + `"}]}`; resp.Message.Content != want {
		t.Errorf("content %s; want %s", resp.Message.Content, want)
	}
}

func TestChatBadAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rep  reply
		want string
	}{
		{"too large", reply{200, `{"model":"m","message":{"role":"assistant","content":"` + strings.Repeat("a", MaxResponseBytes) + `"},"done":true}`}, "larger than 8 MiB"},
		{"not a chat response", reply{200, `<html>hello</html>`}, "not a chat response"},
		{"not done", reply{200, `{"model":"m","message":{"role":"assistant","content":"{"},"done":false}`}, "incomplete"},
		{"error body not JSON", reply{404, "404 page not found\n"}, "HTTP 404 Not Found: 404 page not found"},
		{"redirect", reply{http.StatusTemporaryRedirect, ""}, "HTTP 307 Temporary Redirect"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, "", func(asked) reply { return tc.rep })
			c := newClient(t, f, Options{}, nil)
			_, err := c.Chat(t.Context(), ChatRequest{Messages: []Message{{Role: "system", Content: "s"}, {Role: "user", Content: "Page 1 has 1 display equations."}}, Format: answerSchema})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Chat error %v; want one containing %q", err, tc.want)
			}
			if n := f.calls.Load(); n != 1 {
				t.Errorf("%d requests; want 1", n)
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no host", Options{Model: "m"}, "host"},
		{"bad scheme", Options{Host: "ftp://h", Model: "m"}, "host"},
		{"user info", Options{Host: "http://u:p@h:11434", Model: "m"}, "without user"},
		{"no model", Options{Host: "http://h:11434"}, "no model"},
		{"key with newline", Options{Host: "http://h:11434", Model: "m", APIKey: "sk-1\r\nX-Evil: 1"}, "API key"},
	}
	for _, tc := range tests {
		_, err := New(tc.o, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New error %v; want one containing %q", tc.name, err, tc.want)
		} else if strings.Contains(err.Error(), "sk-1") || strings.Contains(err.Error(), ":p@") {
			t.Errorf("%s: error %q shows a secret", tc.name, err)
		}
	}
	c, err := New(Options{Host: "https://example.org/ollama/", Model: " m "}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.endpoint != "https://example.org/ollama/api/chat" || c.Model() != "m" || c.Timeout() != DefaultTimeout || c.http.RetryMax != DefaultMaxRetries {
		t.Errorf("client %s %q %s %d", c.endpoint, c.Model(), c.Timeout(), c.http.RetryMax)
	}
	c, _ = New(Options{Host: "http://127.0.0.1:11434", Model: "m", MaxRetries: -1, Timeout: time.Second}, nil)
	if c.http.RetryMax != 0 || c.Timeout() != time.Second {
		t.Errorf("retries %d timeout %s", c.http.RetryMax, c.Timeout())
	}
}

func TestCleanLaTeX(t *testing.T) {
	t.Parallel()
	ok := map[string]string{
		`E = mc^2`:                                       `E = mc^2`,
		"  $$ a +\n b $$ ":                               `a + b`,
		`\[ \int_0^1 f \]`:                               `\int_0^1 f`,
		`\begin{equation} x \end{equation}`:              `x`,
		`\begin{equation*}x\end{equation*}`:              `x`,
		`$a$ + $b$`:                                      `$a$ + $b$`,
		`a \label{eq:1} \tag{3} = b \nonumber`:           `a = b`,
		`\left( \frac{a}{b} \right) \{ x \}`:             `\left( \frac{a}{b} \right) \{ x \}`,
		`\begin{aligned} a &= b \\ c &= d \end{aligned}`: `\begin{aligned} a &= b \\ c &= d \end{aligned}`,
		"a = b % a comment {\n + c":                      `a = b + c`,
		`50\% = \frac12`:                                 `50\% = \frac12`,
		`\leftarrow \rightarrow`:                         `\leftarrow \rightarrow`,
		`\left. \frac{d}{dx} \right|_{0}`:                `\left. \frac{d}{dx} \right|_{0}`,
	}
	for in, want := range ok {
		got, err := cleanLaTeX(in)
		if err != nil || got != want {
			t.Errorf("cleanLaTeX(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := map[string]string{
		``:                                   "empty",
		`$$ $$`:                              "empty",
		`\frac{a}{b`:                         "1 { never closed",
		`a}{b`:                               "closes nothing",
		`\{ a }`:                             "closes nothing",
		`\begin{cases} a \end{matrix}`:       `\begin{cases} is closed by \end{matrix}`,
		`\begin{cases} a`:                    "never closed",
		`a \end{cases}`:                      "without its",
		`\left( a`:                           `\left without`,
		`a \right)`:                          `\right without`,
		`a \`:                                "lone backslash",
		"a\x00b":                             "control character",
		"\xff":                               "UTF-8",
		strings.Repeat("x", MaxLaTeXBytes+1): "more than",
		`\begin a`:                           "without an environment name",
	}
	for in, want := range bad {
		if got, err := cleanLaTeX(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("cleanLaTeX(%.40q) = %q, %v; want an error containing %q", in, got, err, want)
		}
	}
}

func TestPageKeys(t *testing.T) {
	t.Parallel()
	eqs := []eqextract.Equation{{Number: "(3)"}, {}, {Number: "3"}, {}, {Number: "A.1"}}
	got := pageKeys(eqs, []int{0, 1, 2, 3, 4})
	if want := []string{"3", "unnumbered-1", "3#2", "unnumbered-2", "A.1"}; !slices.Equal(got, want) {
		t.Errorf("pageKeys = %q; want %q", got, want)
	}
}

// OLLAMA_HOST may end in /api (the hosted API is documented as https://ollama.com/api) or
// not; either way the chat goes to {base}/api/chat, also behind a path prefix.
func TestHostWithOrWithoutAPI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ prefix, suffix string }{
		{"", ""}, {"", "/"}, {"", "/api"}, {"", "/api/"}, {"/ollama", ""}, {"/ollama", "/api"},
	} {
		f := newFake(t, testKey, goodModel)
		f.prefix = tc.prefix
		c, err := New(Options{Host: f.srv.URL + tc.prefix + tc.suffix, Model: testModel, APIKey: testKey}, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Chat(t.Context(), ChatRequest{
			Messages: []Message{{Role: "system", Content: "s"}, {Role: "user", Content: "Page 1 has 1 display equations.\n" + `{"number":"1","text":"t"}`}},
			Format:   answerSchema,
		})
		if err != nil || f.calls.Load() != 1 {
			t.Errorf("host %q: %v after %d calls", tc.prefix+tc.suffix, err, f.calls.Load())
		}
	}
}

// Ollama's own errors for a model it has not pulled and for thinking on a model that cannot
// think come back as StatusErrors naming Ollama's message, without retries.
func TestChatOllamaErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rep  reply
		want string
	}{
		{chatErr(http.StatusNotFound, "model 'qwen2.5vl:7b' not found"), "404 Not Found: model 'qwen2.5vl:7b' not found"},
		{chatErr(http.StatusBadRequest, `"qwen2.5:7b" does not support thinking`), `400 Bad Request: "qwen2.5:7b" does not support thinking`},
	} {
		f := newFake(t, "", func(asked) reply { return tc.rep })
		c := newClient(t, f, Options{}, nil)
		_, err := c.Chat(t.Context(), ChatRequest{
			Messages: []Message{{Role: "system", Content: "s"}, {Role: "user", Content: "Page 1 has 1 display equations.\n" + `{"number":"1","text":"t"}`}},
			Format:   answerSchema,
		})
		var se *StatusError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) || f.calls.Load() != 1 {
			t.Errorf("error %v after %d calls; want a StatusError with %q and no retry", err, f.calls.Load(), tc.want)
		}
	}
}
