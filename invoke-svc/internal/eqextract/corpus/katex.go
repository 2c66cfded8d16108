package corpus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ErrNoKaTeX means the parse check cannot run: node is not installed, or the folder holds
// no KaTeX.
var ErrNoKaTeX = errors.New("corpus: KaTeX parse check unavailable")

// ParseCheck renders every formula with KaTeX under Node (dir holds check.js and
// katex.min.js: shared/katex, the KaTeX the web pages serve, [katex.Dir]) and returns, per
// formula, "" or KaTeX's error message.
// A formula with & or a row break (the rows of an alignment) is checked inside an aligned
// environment.
func ParseCheck(ctx context.Context, dir string, formulas []string) ([]string, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("%w: node not found", ErrNoKaTeX)
	}
	if _, err := os.Stat(filepath.Join(dir, "katex.min.js")); err != nil {
		return nil, fmt.Errorf("%w: no katex.min.js in %s", ErrNoKaTeX, dir)
	}
	wrapped := make([]string, len(formulas))
	for i, f := range formulas {
		wrapped[i] = f
		if strings.Contains(f, "&") || strings.Contains(f, `\\`) {
			// the rows of an alignment, as a display environment would hold them
			wrapped[i] = `\begin{aligned}` + f + `\end{aligned}`
		}
	}
	in, err := json.Marshal(wrapped)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "check.js"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("corpus: KaTeX check: %v: %s", err, stderr.String())
	}
	var res []string
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(formulas) {
		return nil, fmt.Errorf("corpus: KaTeX check: bad answer (%v)", err)
	}
	return res, nil
}
