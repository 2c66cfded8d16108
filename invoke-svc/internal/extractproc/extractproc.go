// Package extractproc runs equation extraction (package eqextract) in a child process with
// limits of its own, so that a runaway parse fails one run and never the worker: the child
// has a memory budget (the Go runtime's soft limit at that value, and an address-space
// rlimit above it that makes an allocation past it fatal to the child), a CPU-time rlimit,
// and a wall deadline after which the parent kills it. The parent kills the child, too, as
// soon as the run's context is done (the client left, or the gateway's deadline passed).
//
// The child is the worker's own binary, started with the argument [ChildArg]; its main
// calls [Serve]. The protocol on its standard streams:
//
//   - stdin: one line of JSON (a [Request]), then the source bytes to the end;
//   - stdout: one JSON object, {"result": eqextract.Result} or {"error": {"kind", "message"}},
//     where kind names the eqextract sentinel the error wraps;
//   - stderr: the Go runtime's own messages when the child dies (out of memory); the parent
//     reads the first 4 KiB.
//
// Errors of a child that did not finish wrap workflow.ErrBudget and name the budget: the
// memory budget (the runtime ran out of memory), the CPU-time budget (the child was killed
// by its rlimit), or the wall-time budget (the parent killed it). Errors of the extraction
// itself come back wrapping the eqextract sentinel the child saw.
//
// Only Linux (and other systems with RLIMIT_AS and RLIMIT_CPU) is supported.
package extractproc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/eqextract"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow"
)

// ChildArg is the first argument that makes the worker's binary a child extractor.
const ChildArg = "extract"

// Kind is what the source is.
type Kind string

// The kinds of source.
const (
	KindLaTeX   Kind = "latex"
	KindArchive Kind = "archive"
	KindPDF     Kind = "pdf"
)

// Request is what the child extracts: the kind of source, its name (for messages and the
// archive format hint), the pages of a PDF (nil: all), and the child's limits.
type Request struct {
	Kind  Kind   `json:"kind"`
	Name  string `json:"name"`
	Pages []int  `json:"pages,omitempty"`
	// MemoryBytes is the child's memory budget.
	MemoryBytes int64 `json:"memoryBytes"`
	// CPUSeconds is the child's CPU-time budget.
	CPUSeconds int64 `json:"cpuSeconds"`
	// SourceBytes is the length of the source that follows the request line.
	SourceBytes int64 `json:"sourceBytes"`
}

// Limits bound one child.
type Limits struct {
	// Memory is the child's memory budget in bytes (at least 64 MiB).
	Memory int64
	// CPU is the child's CPU-time budget (whole seconds, at least 1 s).
	CPU time.Duration
	// Wall is the child's wall-time budget, counted from its start.
	Wall time.Duration
}

// Extractor runs extractions in child processes. Its zero value is not usable: set Exe
// (the worker's binary, usually os.Executable()) and Limits.
type Extractor struct {
	// Exe is the binary to start with ChildArg; Env, when not nil, is its environment.
	Exe string
	Env []string
	Limits
	// Stats, when not nil, is called after each child with its peak resident memory and
	// CPU time, for logs and metrics.
	Stats func(kind Kind, maxRSS int64, cpu time.Duration)
}

// reply is the child's answer on stdout.
type reply struct {
	Result *eqextract.Result `json:"result,omitempty"`
	Error  *replyError       `json:"error,omitempty"`
}

type replyError struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// sentinels are the eqextract errors that cross the process boundary, by kind.
var sentinels = map[string]error{
	"too_large":   eqextract.ErrTooLarge,
	"too_complex": eqextract.ErrTooComplex,
	"not_pdf":     eqextract.ErrNotPDF,
	"bad_archive": eqextract.ErrBadArchive,
	"page_range":  eqextract.ErrPageRange,
}

// ErrChild is wrapped by the errors of a child that failed for a reason that is neither
// its input nor a budget (it could not start, or answered nonsense).
var ErrChild = errors.New("extractproc: child failed")

// childError is an extraction error reported by the child: its message, wrapping the
// sentinel of its kind (nil for others).
type childError struct {
	msg      string
	sentinel error
}

func (e *childError) Error() string { return e.msg }
func (e *childError) Unwrap() error { return e.sentinel }

// maxReply bounds the child's answer: a result is at most eqextract.MaxEquations
// equations, each a few hundred bytes of JSON.
const maxReply = 64 << 20

// Extract runs one extraction of src in a child process. It returns when the child has
// answered, or has been killed because ctx is done or a budget is exhausted.
func (x *Extractor) Extract(ctx context.Context, kind Kind, name string, pages []int, src []byte) (eqextract.Result, error) {
	req := Request{Kind: kind, Name: name, Pages: pages, MemoryBytes: x.Memory,
		CPUSeconds: max(int64(x.CPU/time.Second), 1), SourceBytes: int64(len(src))}
	line, err := json.Marshal(req)
	if err != nil {
		return eqextract.Result{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, x.Wall)
	defer cancel()
	cmd := exec.CommandContext(wctx, x.Exe, ChildArg)
	cmd.Env = x.Env
	cmd.Stdin = io.MultiReader(bytes.NewReader(append(line, '\n')), bytes.NewReader(src))
	var stdout bytes.Buffer
	cmd.Stdout = &limitedWriter{w: &stdout, n: maxReply}
	stderr := &headWriter{max: 4 << 10}
	cmd.Stderr = stderr
	// The child gets no grace: a killed parse has nothing worth finishing.
	cmd.WaitDelay = time.Second
	runErr := cmd.Run()
	if st := cmd.ProcessState; st != nil && x.Stats != nil {
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			x.Stats(kind, ru.Maxrss<<10, st.UserTime()+st.SystemTime())
		}
	}
	switch {
	case ctx.Err() != nil:
		return eqextract.Result{}, ctx.Err()
	case wctx.Err() != nil:
		return eqextract.Result{}, fmt.Errorf("%w: wall-time budget of %v", workflow.ErrBudget, x.Wall)
	case runErr != nil:
		return eqextract.Result{}, x.childFailed(runErr, cmd.ProcessState, stderr.String())
	}
	var rep reply
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return eqextract.Result{}, fmt.Errorf("%w: its answer (%d bytes) is not JSON: %v", ErrChild, stdout.Len(), err)
	}
	if rep.Error != nil {
		return eqextract.Result{}, &childError{msg: rep.Error.Message, sentinel: sentinels[rep.Error.Kind]}
	}
	if rep.Result == nil {
		return eqextract.Result{}, fmt.Errorf("%w: it answered neither a result nor an error", ErrChild)
	}
	return *rep.Result, nil
}

// childFailed explains a child that exited without answering.
func (x *Extractor) childFailed(runErr error, st *os.ProcessState, stderr string) error {
	cpu := time.Duration(0)
	if st != nil {
		cpu = st.UserTime() + st.SystemTime()
	}
	var ws syscall.WaitStatus
	if st != nil {
		ws, _ = st.Sys().(syscall.WaitStatus)
	}
	switch {
	case strings.Contains(stderr, "out of memory") || strings.Contains(stderr, "cannot allocate memory"):
		return fmt.Errorf("%w: memory budget of %d MiB", workflow.ErrBudget, x.Memory>>20)
	case ws.Signaled() && (ws.Signal() == syscall.SIGXCPU || ws.Signal() == syscall.SIGKILL) && cpu >= x.CPU-time.Second/2:
		return fmt.Errorf("%w: CPU-time budget of %v", workflow.ErrBudget, x.CPU)
	}
	return fmt.Errorf("%w: %v: %s", ErrChild, runErr, firstLine(stderr))
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// limitedWriter keeps at most n bytes and fails after them.
type limitedWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.w.Len()+len(p) > l.n {
		return 0, fmt.Errorf("extractproc: the child's answer exceeds %d bytes", l.n)
	}
	return l.w.Write(p)
}

// headWriter keeps the first max bytes written to it: a dying Go runtime writes its reason
// ("fatal error: out of memory") first, then the stacks.
type headWriter struct {
	buf []byte
	max int
}

func (h *headWriter) Write(p []byte) (int, error) {
	if room := h.max - len(h.buf); room > 0 {
		h.buf = append(h.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (h *headWriter) String() string { return string(h.buf) }

// addressSpaceSlack is what the child's address space may hold beyond its memory budget
// and what it had mapped at start: goroutine stacks, the runtime's own structures, and the
// reservations of a heap that grows in 64 MiB arenas.
const addressSpaceSlack = 128 << 20

// Serve is the child's main: it reads a Request and the source from stdin, sets its own
// limits, extracts, and writes the reply to stdout. It returns the exit status.
func Serve(stdin io.Reader, stdout, stderr io.Writer) int {
	br := bufio.NewReaderSize(stdin, 64<<10)
	line, err := br.ReadSlice('\n')
	if err != nil {
		fmt.Fprintf(stderr, "extract: reading the request: %v\n", err)
		return 2
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		fmt.Fprintf(stderr, "extract: bad request: %v\n", err)
		return 2
	}
	if req.MemoryBytes < 64<<20 || req.CPUSeconds < 1 || req.SourceBytes < 0 || req.SourceBytes > req.MemoryBytes {
		fmt.Fprintf(stderr, "extract: bad limits in the request: memory %d, cpu %d s, source %d bytes\n", req.MemoryBytes, req.CPUSeconds, req.SourceBytes)
		return 2
	}
	if err := limitSelf(req.MemoryBytes, req.CPUSeconds); err != nil {
		fmt.Fprintf(stderr, "extract: setting limits: %v\n", err)
		return 2
	}
	src := make([]byte, req.SourceBytes)
	if _, err := io.ReadFull(br, src); err != nil {
		fmt.Fprintf(stderr, "extract: reading %d source bytes: %v\n", req.SourceBytes, err)
		return 2
	}
	res, err := extract(req, src)
	var rep reply
	if err != nil {
		kind := "other"
		for k, s := range sentinels {
			if errors.Is(err, s) {
				kind = k
			}
		}
		rep.Error = &replyError{Kind: kind, Message: err.Error()}
	} else {
		rep.Result = &res
	}
	if err := json.NewEncoder(stdout).Encode(rep); err != nil {
		fmt.Fprintf(stderr, "extract: writing the answer: %v\n", err)
		return 2
	}
	return 0
}

func extract(req Request, src []byte) (eqextract.Result, error) {
	switch req.Kind {
	case KindLaTeX:
		return eqextract.FromLaTeX(src)
	case KindArchive:
		return eqextract.FromArchive(bytes.NewReader(src), int64(len(src)), req.Name)
	case KindPDF:
		// The parent's wall deadline and the CPU rlimit bound the run; no deadline here.
		return eqextract.FromPDFContext(context.Background(), bytes.NewReader(src), int64(len(src)), req.Pages)
	}
	return eqextract.Result{}, fmt.Errorf("extract: unknown kind %q", req.Kind)
}

// limitSelf sets the child's own limits: the runtime's soft memory limit at the budget,
// an address-space rlimit of what is mapped now plus the budget plus slack, and a CPU-time
// rlimit (SIGKILL one second past the budget).
func limitSelf(memory, cpuSeconds int64) error {
	debug.SetMemoryLimit(memory)
	mapped, err := vmSize()
	if err != nil {
		return err
	}
	as := uint64(mapped + memory + addressSpaceSlack)
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: as, Max: as}); err != nil {
		return fmt.Errorf("RLIMIT_AS %d: %w", as, err)
	}
	cpu := uint64(cpuSeconds)
	if err := syscall.Setrlimit(syscall.RLIMIT_CPU, &syscall.Rlimit{Cur: cpu, Max: cpu + 1}); err != nil {
		return fmt.Errorf("RLIMIT_CPU %d: %w", cpu, err)
	}
	return nil
}

// vmSize reads the process's mapped address space (VmSize) from /proc/self/status.
func vmSize() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmSize:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmSize %q: %w", rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmSize in /proc/self/status")
}
