package ollama

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/eqextract"
)

const (
	testModel = "qwen2.5:7b"
	testKey   = "sk-test-5ecr3t-7a1b"
)

// asked is what the fake server understood of one chat request.
type asked struct {
	call    int // 1-based
	page    int
	numbers []string
	texts   []string
	latex   []string
	image   []int    // per equation, the 1-based image index (0 for none)
	images  [][]byte // the decoded images of the user message
}

// reply is what the fake server answers: a status and a raw body.
type reply struct {
	status int
	body   string
}

// fakeOllama is an httptest server that speaks Ollama's /api/chat: it checks each request's
// shape and answers with respond.
type fakeOllama struct {
	t       *testing.T
	key     string // the bearer token expected; "" for none
	prefix  string // the path the server is mounted at ("" or, behind a proxy, "/ollama")
	respond func(a asked) reply
	calls   atomic.Int32
	srv     *httptest.Server

	mu    sync.Mutex
	pages []int // pages asked, in order
}

func newFake(t *testing.T, key string, respond func(a asked) reply) *fakeOllama {
	t.Helper()
	f := &fakeOllama{t: t, key: key, respond: respond}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

var rePage = regexp.MustCompile(`^Page (\d+) has (\d+) display equations`)

func (f *fakeOllama) serve(w http.ResponseWriter, r *http.Request) {
	t := f.t
	n := int(f.calls.Add(1))
	if r.Method != http.MethodPost || r.URL.Path != f.prefix+"/api/chat" {
		t.Errorf("request %s %s; want POST /api/chat", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if got, want := r.Header.Get("Authorization"), bearer(f.key); got != want {
		t.Errorf("Authorization header is %q; want %q", got, want)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("reading the request: %v", err)
		return
	}
	var req struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string   `json:"role"`
			Content string   `json:"content"`
			Images  []string `json:"images"`
		} `json:"messages"`
		Stream  *bool           `json:"stream"`
		Format  json.RawMessage `json:"format"`
		Options map[string]any  `json:"options"`
		Think   json.RawMessage `json:"think"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		t.Errorf("request body %s: %v", body, err)
		return
	}
	// As Ollama's ChatHandler: an unknown model is 404; think:true for a model without the
	// thinking capability (testModel has none) is 400; the client must send think:false.
	if req.Model != testModel {
		t.Errorf("model %q; want %q", req.Model, testModel)
		writeReply(w, chatErr(http.StatusNotFound, fmt.Sprintf("model '%s' not found", req.Model)))
		return
	}
	if string(req.Think) != "false" {
		t.Errorf("think is %s; want false", req.Think)
	}
	if string(req.Think) == "true" {
		writeReply(w, chatErr(http.StatusBadRequest, fmt.Sprintf("%q does not support thinking", req.Model)))
		return
	}
	if req.Stream == nil || *req.Stream {
		t.Errorf("stream is %v; want false", req.Stream)
	}
	var schema map[string]any
	if err := json.Unmarshal(req.Format, &schema); err != nil || schema["type"] != "object" {
		t.Errorf("format %s is not a JSON schema object", req.Format)
	} else if reqd := schema["required"]; fmt.Sprint(reqd) != "[equations]" {
		t.Errorf("format requires %v", reqd)
	}
	if temp, ok := req.Options["temperature"].(float64); !ok || temp != 0 {
		t.Errorf("options %v; want temperature 0", req.Options)
	}
	if len(req.Messages) != 2 || req.Messages[0].Role != "system" || req.Messages[1].Role != "user" ||
		req.Messages[0].Content == "" {
		t.Errorf("messages %+v; want a system and a user message", req.Messages)
		return
	}
	a := asked{call: n}
	if len(req.Messages[0].Images) > 0 {
		t.Errorf("images in the system message")
	}
	for _, im := range req.Messages[1].Images {
		b, err := base64.StdEncoding.DecodeString(im)
		if err != nil {
			t.Errorf("image is not base64: %v", err)
		}
		a.images = append(a.images, b)
	}
	sc := bufio.NewScanner(strings.NewReader(req.Messages[1].Content))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := rePage.FindStringSubmatch(line); m != nil {
			a.page, _ = strconv.Atoi(m[1])
			continue
		}
		var item struct {
			Number, Text, LaTeX string
			Image               int
		}
		if err := json.Unmarshal([]byte(line), &item); err != nil {
			t.Errorf("user message line %q: %v", line, err)
			continue
		}
		if item.Image < 0 || item.Image > len(a.images) {
			t.Errorf("equation %q names image %d of %d", item.Number, item.Image, len(a.images))
		}
		a.numbers = append(a.numbers, item.Number)
		a.texts = append(a.texts, item.Text)
		a.latex = append(a.latex, item.LaTeX)
		a.image = append(a.image, item.Image)
	}
	if a.page == 0 {
		t.Errorf("user message does not name the page: %q", req.Messages[1].Content)
	}
	f.mu.Lock()
	f.pages = append(f.pages, a.page)
	f.mu.Unlock()

	writeReply(w, f.respond(a))
}

// recorder is a fake server that answers every request well and keeps what it was asked.
type recorder struct {
	*fakeOllama
	mu   sync.Mutex
	seen []asked
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.fakeOllama = newFake(t, testKey, func(a asked) reply {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.seen = append(rec.seen, a)
		return goodModel(a)
	})
	return rec
}

// asked returns the requests so far.
func (r *recorder) asked() []asked {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// writeReply writes rep as Ollama (gin) does: JSON with charset.
func writeReply(w http.ResponseWriter, rep reply) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func bearer(key string) string {
	if key == "" {
		return ""
	}
	return "Bearer " + key
}

// chatOK is a 200 answer in Ollama's non-streaming shape with the given content.
func chatOK(content string) reply {
	b, _ := json.Marshal(map[string]any{
		"model":                testModel,
		"created_at":           "2025-06-01T12:00:00.123456789Z",
		"message":              map[string]any{"role": "assistant", "content": content},
		"done":                 true,
		"done_reason":          "stop",
		"total_duration":       5191566416,
		"load_duration":        2154458,
		"prompt_eval_count":    26,
		"prompt_eval_duration": 383809000,
		"eval_count":           298,
		"eval_duration":        4799921000,
	})
	return reply{http.StatusOK, string(b)}
}

// chatErr is an error answer in Ollama's shape.
func chatErr(status int, msg string) reply {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return reply{status, string(b)}
}

// latexFor is the LaTeX the fake model gives for an equation.
func latexFor(number string) string {
	return `x_{` + strings.ReplaceAll(number, "#", "") + `} = \frac{a}{b}`
}

// answer is a well-formed answer to a.
func answer(a asked) string {
	type eq struct {
		Number string `json:"number"`
		LaTeX  string `json:"latex"`
	}
	out := struct {
		Equations []eq `json:"equations"`
	}{Equations: []eq{}}
	for _, n := range a.numbers {
		out.Equations = append(out.Equations, eq{n, latexFor(n)})
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// goodModel answers every request well.
func goodModel(a asked) reply { return chatOK(answer(a)) }

// sample is a builtin PDF result: page 1 with a numbered and an unnumbered equation,
// page 3 with one numbered equation, page 2 without equations.
func sample() eqextract.Result {
	bb := [4]float64{100, 200, 400, 230}
	return eqextract.Result{
		Equations: []eqextract.Equation{
			{Page: 1, Number: "1", Text: "E = mc2", BBox: &bb},
			{Page: 1, Text: "a + b = c"},
			{Page: 3, Number: "2.1a", Text: "∫ f(x) dx = F(b) − F(a)"},
		},
		Pages:          3,
		UncertainPages: []int{2},
	}
}

// twoPages is a result with page 1 of two equations and page 2 of three.
func twoPages() eqextract.Result {
	return eqextract.Result{
		Equations: []eqextract.Equation{
			{Page: 1, Number: "1", Text: "a = b"},
			{Page: 1, Number: "2", Text: "c = d"},
			{Page: 2, Number: "3", Text: "e = f"},
			{Page: 2, Number: "4", Text: "g = h"},
			{Page: 2, Number: "5", Text: "i = j"},
		},
		Pages: 2,
	}
}

// newClient returns a client of f with a debug logger into logs (when not nil) and
// short retry waits.
func newClient(t *testing.T, f *fakeOllama, o Options, logs io.Writer) *Client {
	t.Helper()
	o.Host = f.srv.URL
	if o.Model == "" {
		o.Model = testModel
	}
	if o.APIKey == "" {
		o.APIKey = f.key
	}
	var logger *slog.Logger
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := New(o, logger)
	if err != nil {
		t.Fatal(err)
	}
	c.http.RetryWaitMin, c.http.RetryWaitMax = 10*time.Millisecond, 50*time.Millisecond
	return c
}
