package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/config"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/objectstore"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/ollama"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow/equations"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/settings/settingstest"
)

// visionChat is what the Ollama stand-in saw of one chat request.
type visionChat struct {
	model  string
	images [][]byte
}

// fakeVisionOllama answers POST /api/chat as Ollama does (one non-streaming JSON answer),
// with one LaTeX per equation listed in the user message, and records each request.
func fakeVisionOllama(t *testing.T) (*httptest.Server, func() []visionChat) {
	t.Helper()
	var (
		mu    sync.Mutex
		chats []visionChat
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/chat" {
			http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
			return
		}
		var req struct {
			Model    string           `json:"model"`
			Messages []ollama.Message `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) != 2 {
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
			return
		}
		chat := visionChat{model: req.Model}
		for _, img := range req.Messages[1].Images {
			b, err := base64.StdEncoding.DecodeString(img)
			if err != nil {
				t.Errorf("image is not base64: %v", err)
			}
			chat.images = append(chat.images, b)
		}
		var eqs []map[string]string
		sc := bufio.NewScanner(strings.NewReader(req.Messages[1].Content))
		for sc.Scan() {
			var item struct {
				Number string `json:"number"`
			}
			if json.Unmarshal(sc.Bytes(), &item) == nil && item.Number != "" {
				eqs = append(eqs, map[string]string{"number": item.Number, "latex": "x_{" + item.Number + "}"})
			}
		}
		content, _ := json.Marshal(map[string]any{"equations": eqs})
		mu.Lock()
		chats = append(chats, chat)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"model": req.Model, "created_at": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			"message": map[string]string{"role": "assistant", "content": string(content)},
			"done":    true, "done_reason": "stop",
		})
	}))
	t.Cleanup(srv.Close)
	return srv, func() []visionChat {
		mu.Lock()
		defer mu.Unlock()
		return append([]visionChat(nil), chats...)
	}
}

// pdfStore holds one object, Q1, with one PDF, and keeps what the workflow commits.
type pdfStore struct{ pdf []byte }

func (s pdfStore) Record(_ context.Context, id string) (*retrievev1.GetRecordResponse, error) {
	if id != "Q1" {
		return nil, fmt.Errorf("%w: %s", workflow.ErrNotFound, id)
	}
	return &retrievev1.GetRecordResponse{ObjectId: id, Components: []*retrievev1.Component{{ComponentId: "paper.pdf", MediaType: "application/pdf"}}}, nil
}

func (s pdfStore) Read(_ context.Context, id, comp string, _ int64) ([]byte, *retrievev1.ComponentHeader, error) {
	if id != "Q1" || comp != "paper.pdf" {
		return nil, nil, fmt.Errorf("%w: %s/%s", workflow.ErrNotFound, id, comp)
	}
	return s.pdf, &retrievev1.ComponentHeader{ComponentId: comp, Size: int64(len(s.pdf))}, nil
}

func (s pdfStore) Write(_ context.Context, _, _, p, _ string, data []byte) (*retrievev1.WriteComponentResponse, error) {
	sum := sha256.Sum256(data)
	return &retrievev1.WriteComponentResponse{ComponentId: p, Size: int64(len(data)), Sha256: hex.EncodeToString(sum[:])}, nil
}

func (s pdfStore) Commit(ctx context.Context, id, wf string, _ map[string]string, files []objectstore.File) (*retrievev1.CommitComponentsResponse, error) {
	resp := &retrievev1.CommitComponentsResponse{Version: "v1"}
	for _, f := range files {
		w, _ := s.Write(ctx, id, wf, f.Path, f.MediaType, f.Data)
		resp.Components = append(resp.Components, w)
	}
	return resp, nil
}

type noEvents struct{}

func (noEvents) Progress(string, string, float64) error  { return nil }
func (noEvents) Derived(workflow.DerivedComponent) error { return nil }

// With OLLAMA_VISION_MODEL, equation_extraction with backend ollama asks the vision model
// and sends it each display's region of the page as a PNG. Needs pdftoppm (poppler-utils):
// skipped without it, except under CI, which installs it.
func TestVisionModelSeesThePage(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pdftoppm (poppler-utils) is not installed; CI must install it")
		}
		t.Skip("pdftoppm (poppler-utils) is not installed: apt-get install poppler-utils")
	}
	srv, chats := fakeVisionOllama(t)
	cfg, err := config.Load(nil, settingstest.Env("OLLAMA_HOST", srv.URL, "OLLAMA_MODEL", "qwen2.5:7b", "OLLAMA_VISION_MODEL", "qwen2.5vl:7b"))
	if err != nil {
		t.Fatal(err)
	}
	refiner, err := ollamaRefiner(cfg.Ollama, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	pdf, err := os.ReadFile("../../testdata/corpus/01-heat-article.pdf")
	if err != nil {
		t.Fatal(err)
	}
	r := &equations.Runner{Store: pdfStore{pdf: pdf}, Extractor: equations.Builtin{}, Ollama: refiner}
	raw, err := r.Run(t.Context(), workflow.Input{ObjectID: "Q1", Params: json.RawMessage(`{"backend":"ollama"}`)}, noEvents{})
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Backend       string `json:"backend"`
		EquationCount int    `json:"equationCount"`
	}
	if err := json.Unmarshal(raw, &res); err != nil || res.Backend != "ollama" || res.EquationCount == 0 {
		t.Fatalf("result %s (%v): want backend ollama and equations", raw, err)
	}
	got := chats()
	if len(got) == 0 {
		t.Fatal("the model was not asked")
	}
	images := 0
	for _, c := range got {
		if c.model != "qwen2.5vl:7b" {
			t.Errorf("asked model %q, want the vision model", c.model)
		}
		for _, img := range c.images {
			cfg, err := png.DecodeConfig(bytes.NewReader(img))
			if err != nil {
				t.Errorf("image is not a PNG: %v", err)
				continue
			}
			if cfg.Width < 20 || cfg.Height < 10 || cfg.Height > cfg.Width {
				t.Errorf("image of %dx%d pixels, want a display's region (wider than high)", cfg.Width, cfg.Height)
			}
			images++
		}
	}
	if images < res.EquationCount {
		t.Errorf("%d images for %d equations, want one per display", images, res.EquationCount)
	}
}

// Without OLLAMA_VISION_MODEL the model gets text only; with it but no pdftoppm on the PATH,
// invoke-svc does not start, and says why.
func TestVisionModelNeedsPdftoppm(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	text := config.Ollama{Host: "http://127.0.0.1:1", Model: "qwen2.5:7b"}
	if _, err := ollamaRefiner(text, nil); err != nil {
		t.Fatalf("text only: %v", err)
	}
	vision := text
	vision.VisionModel = "qwen2.5vl:7b"
	_, err := ollamaRefiner(vision, nil)
	if err == nil {
		t.Fatal("a vision model without pdftoppm was accepted")
	}
	for _, want := range []string{"OLLAMA_VISION_MODEL", "pdftoppm", "poppler-utils"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if err := run(t.Context(), nil, settingstest.Env("OLLAMA_HOST", "127.0.0.1:1", "OLLAMA_VISION_MODEL", "qwen2.5vl:7b", "ADMIN_ADDR", ""), t.Output()); err == nil || !strings.Contains(err.Error(), "pdftoppm") {
		t.Errorf("run = %v, want the start-up error naming pdftoppm", err)
	}
}
