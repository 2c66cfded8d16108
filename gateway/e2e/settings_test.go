package e2e_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelpAndBadSettings runs each service binary as a user would: -h prints the usage on
// stdout and exits 0, the same in every process; a bad setting exits 1 with the setting, its
// value and its source on stderr, and nothing on stdout.
func TestHelpAndBadSettings(t *testing.T) {
	skipShort(t)
	t.Parallel()
	for _, bin := range []string{"doip-gateway", "retrieve-svc", "invoke-svc"} {
		t.Run(bin, func(t *testing.T) {
			t.Parallel()
			run := func(args []string, env ...string) (code int, stdout, stderr string) {
				t.Helper()
				var out, errOut bytes.Buffer
				cmd := exec.Command(filepath.Join(binDir, bin), args...)
				cmd.Env = append(os.Environ(), env...)
				cmd.Stdout, cmd.Stderr = &out, &errOut
				err := cmd.Run()
				var exit *exec.ExitError
				switch {
				case err == nil:
				case errors.As(err, &exit):
					code = exit.ExitCode()
				default:
					t.Fatal(err)
				}
				return code, out.String(), errOut.String()
			}
			for _, help := range []string{"-h", "--help"} {
				code, stdout, stderr := run([]string{"--config=", help})
				if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "Usage: "+bin+" [--config FILE]") ||
					!strings.Contains(stdout, "--log-level / LOG_LEVEL (key log-level)") {
					t.Errorf("%s %s: exit %d, stdout %q, stderr %q", bin, help, code, stdout, stderr)
				}
			}
			code, stdout, stderr := run([]string{"--config=", "--drain-timeout=soon"}, "LOG_LEVEL=loud")
			for _, want := range []string{
				bin + ": config: ",
				`--log-level / LOG_LEVEL = "loud" (from environment LOG_LEVEL)`,
				`= "soon" (from flag --drain-timeout)`,
			} {
				if code != 1 || stdout != "" || !strings.Contains(stderr, want) {
					t.Errorf("%s with bad settings: exit %d, stdout %q, stderr %q; want exit 1 and %q", bin, code, stdout, stderr, want)
				}
			}
		})
	}
}
