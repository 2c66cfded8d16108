package storagelakefs_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/lakefs"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storagelakefs"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storages3"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storagetesting"
	"github.com/fdo-doip/doip-gateway/shared/lakefstest"
)

// repos numbers the repositories of one lakeFS: each subtest gets its own.
var repos atomic.Int64

// newBucketOn makes a fresh repository with a branch "main" on srv and returns it as a bucket.
func newBucketOn(t *testing.T, srv *lakefstest.Server) *storagelakefs.Bucket {
	t.Helper()
	repo := fmt.Sprintf("conformance-%d", repos.Add(1))
	srv.CreateRepo(t, repo, "main")
	return newBucket(t, srv, repo, srv.AccessKey)
}

func newBucket(t *testing.T, srv *lakefstest.Server, repo, key string) *storagelakefs.Bucket {
	return newBucketWith(t, srv, repo, key, t.Output())
}

// newBucketTB is newBucket for a benchmark, its log discarded.
func newBucketTB(tb testing.TB, srv *lakefstest.Server, repo string) *storagelakefs.Bucket {
	return newBucketWith(tb, srv, repo, srv.AccessKey, io.Discard)
}

func newBucketWith(t testing.TB, srv *lakefstest.Server, repo, key string, logTo io.Writer) *storagelakefs.Bucket {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(logTo, nil))
	s3, err := storages3.New(t.Context(), storages3.Options{Endpoint: srv.URL(), Bucket: repo, AccessKey: key, SecretKey: srv.SecretKey, MaxRetries: 1}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s3.Close() })
	api, err := lakefs.New(srv.URL(), repo, key, srv.SecretKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	return storagelakefs.New(s3, api, logger)
}

// TestConformance runs the versions suite against a real lakeFS: commits through run
// branches, reads at commits and branches. (The bucket suite runs on storages3 against
// versitygw: lakeFS's S3 gateway takes only keys whose first segment is a ref.)
func TestConformance(t *testing.T) {
	srv := lakefstest.Start(t)
	t.Run("Versioner", func(t *testing.T) {
		storagetesting.RunVersionerTests(t, func(t *testing.T) storagetesting.VersionedBucket { return newBucketOn(t, srv) })
	})
	t.Run("CommitMetadataAndNoRunBranchLeft", func(t *testing.T) {
		b := newBucketOn(t, srv)
		tx, err := b.Begin(t.Context(), "main")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Put(t.Context(), "main/x/a.json", strings.NewReader("{}"), 2); err != nil {
			t.Fatal(err)
		}
		id, err := tx.Commit(t.Context(), "one run", map[string]string{"workflow": "wf", "source_sha256": "abc"})
		if err != nil {
			t.Fatal(err)
		}
		repo := b.Name()
		var c lakefs.Commit
		if code := srv.API(t, http.MethodGet, "/repositories/"+repo+"/commits/"+id, &c); code != http.StatusOK ||
			c.Message != "one run" || c.Metadata["workflow"] != "wf" || c.Metadata["source_sha256"] != "abc" || len(c.Parents) != 1 {
			t.Errorf("commit %s (HTTP %d) = %+v", id, code, c)
		}
		var branches struct {
			Results []struct {
				ID string `json:"id"`
			} `json:"results"`
		}
		srv.API(t, http.MethodGet, "/repositories/"+repo+"/branches?show_hidden=true", &branches)
		for _, br := range branches.Results {
			if storagelakefs.IsRunBranch(br.ID) {
				t.Errorf("run branch %s left behind", br.ID)
			}
		}
	})
}

// TestConcurrentCommits: runs that commit at the same time, to the same key and to keys of
// their own, all succeed; the branch ends with every run's own file and one run's shared
// file, and each run's commit holds exactly what that run wrote.
func TestConcurrentCommits(t *testing.T) {
	srv := lakefstest.Start(t)
	b := newBucketOn(t, srv)
	const runs = 4
	ids := make([]string, runs)
	var wg sync.WaitGroup
	errs := make(chan error, runs)
	for i := range runs {
		wg.Go(func() {
			tx, err := b.Begin(t.Context(), "main")
			if err != nil {
				errs <- err
				return
			}
			defer tx.Abort(t.Context())
			for _, kv := range [][2]string{{"main/x/shared.json", fmt.Sprint(i)}, {fmt.Sprintf("main/x/own-%d.json", i), fmt.Sprint(i)}} {
				if _, err := tx.Put(t.Context(), kv[0], strings.NewReader(kv[1]), int64(len(kv[1]))); err != nil {
					errs <- err
					return
				}
			}
			ids[i], err = tx.Commit(t.Context(), fmt.Sprint("run ", i), nil)
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, id := range ids {
		rb, _, err := b.At(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"main/x/shared.json", fmt.Sprintf("main/x/own-%d.json", i)} {
			rc, _, err := rb.Get(t.Context(), key)
			if err != nil {
				t.Errorf("run %d: %s at its commit: %v", i, key, err)
				continue
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if string(got) != fmt.Sprint(i) {
				t.Errorf("run %d: %s at its commit = %q", i, key, got)
			}
		}
	}
	for i := range runs {
		if _, err := b.Stat(t.Context(), fmt.Sprintf("main/x/own-%d.json", i)); err != nil {
			t.Errorf("own-%d.json on the branch: %v", i, err)
		}
	}
}

// TestRefusedKeys: a key lakeFS does not know is named as rejected by the API; an access key
// id longer than 20 characters, which the API takes and the S3 gateway refuses, is named with
// lakeFS's rule, on Check and on every read.
func TestRefusedKeys(t *testing.T) {
	srv := lakefstest.Start(t)
	srv.CreateRepo(t, "doip", "main")
	if err := newBucket(t, srv, "doip", srv.AccessKey).Check(t.Context()); err != nil {
		t.Fatalf("Check with the right key: %v", err)
	}
	long := lakefstest.Start(t, lakefstest.WithAccessKey("local-only-access-key"))
	long.CreateRepo(t, "doip", "main") // through the API: it takes the key
	b := newBucket(t, long, "doip", long.AccessKey)
	err := b.Check(t.Context())
	if err == nil || !strings.Contains(err.Error(), "lakeFS wants 3 to 20 characters, this one has 21") || strings.Contains(err.Error(), long.SecretKey) {
		t.Errorf("Check with a 21-character key: %v", err)
	}
	if _, _, err := b.Get(t.Context(), "main/x"); err == nil || !strings.Contains(err.Error(), "3 to 20") {
		t.Errorf("Get with a 21-character key: %v", err)
	}
	unknown := newBucket(t, srv, "doip", "unknown-key")
	if err := unknown.Check(t.Context()); err == nil || !strings.Contains(err.Error(), "access denied") {
		t.Errorf("Check with an unknown key: %v", err)
	}
}

// A key missing at a commit stays missing at that commit, and is answered so without asking
// lakeFS again (here: while lakeFS is down); a later commit that adds it shows it.
func TestMissingAtACommit(t *testing.T) {
	srv := lakefstest.Start(t)
	b := newBucketOn(t, srv)
	ctx := t.Context()
	const key = "main/00/01/23/Q123/record.json"
	v0, c0, err := b.At(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := v0.Get(ctx, key); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("a missing record: %v", err)
	}

	srv.Stop(t)
	if _, _, err := v0.Get(ctx, key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("known missing at %s, with lakeFS down: %v", c0, err)
	}
	if _, err := v0.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat, known missing at %s, with lakeFS down: %v", c0, err)
	}
	if _, _, err := v0.Get(ctx, "main/00/01/23/Q123/other.json"); err == nil || errors.Is(err, storage.ErrNotExist) {
		t.Errorf("a key never looked up, with lakeFS down: %v; want an error that is not ErrNotExist", err)
	}
	srv.Restart(t)

	tx, err := b.Begin(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Put(ctx, key, strings.NewReader(`{"a":1}`), 7); err != nil {
		t.Fatal(err)
	}
	c1, err := tx.Commit(ctx, "add the record", nil)
	if err != nil {
		t.Fatal(err)
	}
	v1, got, err := b.At(ctx, "main")
	if err != nil || got != c1 {
		t.Fatalf("At(main) = %s, %v; want %s", got, err, c1)
	}
	rc, _, err := v1.Get(ctx, key)
	if err != nil {
		t.Fatalf("the record at the commit that added it: %v", err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if string(body) != `{"a":1}` {
		t.Errorf("read %q", body)
	}
	if v, _, err := b.At(ctx, c0); err != nil {
		t.Fatal(err)
	} else if _, _, err := v.Get(ctx, key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("at the older commit %s: %v", c0, err)
	}
}

// BenchmarkRecordOfFaçadeObject is what reading a façade object's record costs on lakeFS
// before the façade is asked: the branch's head, then record.json at it, which is missing.
func BenchmarkRecordOfFaçadeObject(b *testing.B) {
	srv := lakefstest.Start(b)
	repo := fmt.Sprintf("bench-%d", repos.Add(1))
	srv.CreateRepo(b, repo, "main")
	bucket := newBucketTB(b, srv, repo)
	ctx := b.Context()
	for b.Loop() {
		v, _, err := bucket.At(ctx, "main")
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := v.Get(ctx, "main/00/01/23/Q123/record.json"); !errors.Is(err, storage.ErrNotExist) {
			b.Fatal(err)
		}
	}
}
