// Package storages3 is the S3 backend of [storage.Bucket], written for the S3 gateway of lakeFS
// (the key layout of package storage): the bucket is the lakeFS repository and
// keys are "{branch}/{shard}/{QID}/components/{componentId}", addressed path-style
// ("{endpoint}/{bucket}/{key}") and signed with SigV4. It works against any S3 server that
// speaks path-style requests (the tests use versitygw).
//
// Reads stream: Get and GetRange make one GET and hand its body to the caller, with the
// object's size and modification time taken from that response; GetRange asks for an HTTP
// range. Stat is one HEAD. Put is all-or-nothing: an object of known size up to
// [Options.PartSize] is read whole into memory before a single PUT (so a failing or short
// reader never reaches S3, and the PUT can be retried); a larger object, or one of unknown
// size (unless the reader is empty), goes up as a multipart upload of PartSize parts that
// is completed only after the reader has given exactly the promised bytes, and is aborted
// otherwise. Either way a Put holds at most one part in memory.
//
// Rejected credentials map to [ErrAccessDenied] (HTTP 401 and 403, and the codes some servers
// send with a 404 for an unknown access key); every other "not found" answer (NoSuchKey,
// NoSuchBucket, NotFound, any 404) maps to [storage.ErrNotExist]. Errors name the operation and
// the key, never the credentials.
//
// Timeouts: [Options.Timeout] bounds how long S3 may make no progress: connecting, waiting for
// an answer, and each read of a body that has stopped flowing. A healthy transfer of any size
// is never cut off, and time spent waiting for the caller (reading from Put's reader, or
// between reads of Get's body) does not count. Transient failures (connection errors, 5xx,
// 429, SlowDown) are retried by minio-go, [Options.MaxRetries] attempts in all, as long as
// the request body can be replayed.
//
// List ([storage.Lister]) pages through ListObjectsV2. Not handled: deletion, versions,
// server-side encryption, and multipart uploads abandoned by a crashed process (configure a
// lifecycle rule on the bucket for those).
package storages3

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
)

// Defaults and limits of [Options].
const (
	DefaultRegion     = "us-east-1"
	DefaultTimeout    = 30 * time.Second
	DefaultPartSize   = 16 << 20 // 16 MiB
	DefaultMaxRetries = 3
	MinPartSize       = 5 << 20 // S3's smallest part (but the last)
	MaxPartSize       = 5 << 30 // S3's largest part
	maxParts          = 10000   // S3's most parts in one upload
)

// The lengths of an access key id that lakeFS's S3 gateway accepts (its SigV4 parser matches
// the id with .{3,20}); the REST API accepts others.
const (
	MinLakeFSKeyLen = 3
	MaxLakeFSKeyLen = 20
)

// ErrAccessDenied is returned (wrapped) when S3 rejects the credentials (InvalidAccessKeyId,
// SignatureDoesNotMatch) or denies the request (AccessDenied, HTTP 401 or 403).
var ErrAccessDenied = errors.New("access denied (check the access key, the secret key and their permissions)")

// Options configures a [Bucket].
type Options struct {
	// Endpoint is the S3 server: "https://lakefs.example.org", "http://127.0.0.1:8000" or
	// "lakefs:8000". The scheme decides TLS; without one, TLS is used unless the host is a
	// loopback address or "localhost". A path "/api/v1" (the lakeFS API) is ignored, because
	// lakeFS serves S3 at the root; any other path, user info, query or fragment is an error.
	Endpoint string
	// Bucket is the bucket, for lakeFS the repository.
	Bucket string
	// AccessKey and SecretKey sign every request (SigV4). For lakeFS, an access key pair.
	AccessKey, SecretKey string
	// Region signs requests; DefaultRegion if empty. lakeFS accepts any.
	Region string
	// Timeout bounds how long S3 may make no progress (see the package doc); DefaultTimeout
	// if 0.
	Timeout time.Duration
	// PartSize is both the largest object sent in one PUT and the part size of multipart
	// uploads, from MinPartSize to MaxPartSize; DefaultPartSize if 0. Each Put holds up to one
	// part in memory.
	PartSize uint64
	// MaxRetries is how many attempts a request gets in all; DefaultMaxRetries if 0, 1 for
	// none.
	MaxRetries int
}

// Bucket is an S3 bucket, safe for concurrent use. Make one with [New].
type Bucket struct {
	client    *minio.Client
	core      minio.Core // the same client; its GetObject returns the response body directly
	transport *http.Transport
	bucket    string
	endpoint  string // host:port, for messages
	timeout   time.Duration
	partSize  uint64
	logger    *slog.Logger
	keyLen    int // the access key id's length, for the hint of a rejected one
}

var _ storage.Bucket = (*Bucket)(nil)

// New returns a bucket for opts. It makes no request: a server that is down, or a bucket
// that does not exist, shows in the first operation, or earlier through [Bucket.Check].
// Close releases its idle connections.
func New(ctx context.Context, opts Options, logger *slog.Logger) (*Bucket, error) {
	_ = ctx // nothing to wait for yet; kept so that a future start-up step can be bounded
	host, secure, err := ParseEndpoint(opts.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("storages3: endpoint: %w", err)
	}
	var errs []error
	if err := s3utils.CheckValidBucketName(opts.Bucket); err != nil {
		errs = append(errs, fmt.Errorf("bucket %q: %w", opts.Bucket, err))
	}
	if opts.AccessKey == "" || opts.SecretKey == "" {
		errs = append(errs, errors.New("no access key or no secret key"))
	}
	partSize := cmp.Or(opts.PartSize, DefaultPartSize)
	if partSize < MinPartSize || partSize > MaxPartSize {
		errs = append(errs, fmt.Errorf("part size %d outside %d to %d", partSize, MinPartSize, MaxPartSize))
	}
	if opts.Timeout < 0 || opts.MaxRetries < 0 {
		errs = append(errs, errors.New("negative timeout or retries"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("storages3: %w", err)
	}
	timeout := cmp.Or(opts.Timeout, DefaultTimeout)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	tr := newTransport(timeout, secure)
	client, err := minio.New(host, &minio.Options{
		Creds:        credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, ""),
		Secure:       secure,
		Transport:    tr,
		Region:       cmp.Or(opts.Region, DefaultRegion), // a set region saves a GetBucketLocation call
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   cmp.Or(opts.MaxRetries, DefaultMaxRetries),
	})
	if err != nil {
		return nil, fmt.Errorf("storages3: %w", err)
	}
	return &Bucket{
		client:    client,
		core:      minio.Core{Client: client},
		transport: tr,
		bucket:    opts.Bucket,
		endpoint:  host,
		timeout:   timeout,
		partSize:  partSize,
		logger:    logger,
		keyLen:    len(opts.AccessKey),
	}, nil
}

// newTransport is http.DefaultTransport tuned for object transfers to one host: many idle
// connections kept for reuse, larger buffers, no transparent gzip (sizes and ranges must be
// the stored bytes), and bounded connecting and waiting. The response-header bound is twice
// the timeout so that the per-operation watchdog, which reports the clearer error, fires
// first; the transport's bound still covers requests minio-go makes outside an operation's
// context (aborting a failed multipart upload).
func newTransport(timeout time.Duration, secure bool) *http.Transport {
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   timeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   min(timeout, 10*time.Second),
		ResponseHeaderTimeout: 2 * timeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		WriteBufferSize:       64 << 10,
		ReadBufferSize:        64 << 10,
	}
	if secure {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return tr
}

// ParseEndpoint checks an endpoint as [Options.Endpoint] describes it and returns its
// host:port and whether to use TLS. Its errors never repeat the value, which might hold a
// password.
func ParseEndpoint(raw string) (hostport string, secure bool, err error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", false, errors.New("empty")
	}
	scheme := ""
	rest := raw
	if i := strings.Index(raw, "://"); i >= 0 {
		scheme, rest = strings.ToLower(raw[:i]), raw[i+3:]
		if scheme != "http" && scheme != "https" {
			return "", false, errors.New("want an http:// or https:// URL, or host:port")
		}
	}
	u, err := url.Parse("http://" + rest)
	if err != nil {
		return "", false, errors.New("not a URL or host:port") // url's error would repeat the value
	}
	switch {
	case u.User != nil:
		return "", false, errors.New("must not contain user info; give the access key and secret key separately")
	case u.Hostname() == "":
		return "", false, errors.New("no host")
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(rest, "?"):
		return "", false, errors.New("must not have a query or fragment")
	}
	if p := strings.TrimSuffix(u.Path, "/"); p != "" && p != "/api/v1" {
		return "", false, errors.New("must not have a path (lakeFS serves S3 at the root of its URL)")
	}
	switch scheme {
	case "https":
		secure = true
	case "http":
		secure = false
	default:
		secure = !isLoopback(u.Hostname())
	}
	return u.Host, secure, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Endpoint returns the server's host:port, for logs.
func (b *Bucket) Endpoint() string { return b.endpoint }

// Name returns the bucket's name.
func (b *Bucket) Name() string { return b.bucket }

// Close releases idle connections. The bucket stays usable.
func (b *Bucket) Close() error {
	b.transport.CloseIdleConnections()
	return nil
}

// Check asks once whether the bucket exists, within the timeout, and returns an error that
// says why not: the server is unreachable, the credentials are rejected ([ErrAccessDenied]),
// or there is no such bucket ([storage.ErrNotExist]). Operations do not call it; a service
// may, once at start-up, to log a clear message.
func (b *Bucket) Check(ctx context.Context) error {
	ctx, w := newWatchdog(ctx, b.timeout)
	defer w.stop()
	ok, err := b.client.BucketExists(ctx, b.bucket)
	if err != nil {
		return b.fail(ctx, "check bucket", "", err)
	}
	if !ok {
		// A HEAD answer has no body, so a 404 may also be a server's way of refusing an
		// unknown access key (versitygw does). A GET's error body tells them apart.
		rc, _, _, err := b.core.GetObject(ctx, b.bucket, ".storages3-check", minio.GetObjectOptions{})
		if err == nil {
			rc.Close()
		}
		if err := b.fail(ctx, "check bucket", "", err); errors.Is(err, ErrAccessDenied) {
			return err
		}
		return fmt.Errorf("storages3: bucket %q at %s: %w", b.bucket, b.endpoint, storage.ErrNotExist)
	}
	return nil
}

// Stat implements [storage.ReadBucket] with one HEAD request.
func (b *Bucket) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := b.check(ctx, key); err != nil {
		return storage.ObjectInfo{}, err
	}
	ctx, w := newWatchdog(ctx, b.timeout)
	defer w.stop()
	oi, err := b.client.StatObject(ctx, b.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return storage.ObjectInfo{}, b.fail(ctx, "stat", key, err)
	}
	return storage.ObjectInfo{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Get implements [storage.ReadBucket] with one GET whose body is returned unread.
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	if err := b.check(ctx, key); err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	body, oi, _, err := b.open(ctx, "get", key, minio.GetObjectOptions{})
	if err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	if oi.Size < 0 { // no Content-Length: ask
		info, err := b.Stat(ctx, key)
		if err != nil {
			body.Close()
			return nil, storage.ObjectInfo{}, err
		}
		oi.Size = info.Size
	}
	return body, storage.ObjectInfo{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// GetRange implements [storage.ReadBucket] with one ranged GET. A zero length, and an offset
// the server calls unsatisfiable (which may be the end of the object, a valid empty range),
// cost a HEAD to learn the size.
func (b *Bucket) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := b.check(ctx, key); err != nil {
		return nil, err
	}
	if offset < 0 || length < 0 {
		_, err := storage.CheckRange(key, math.MaxInt64, offset, length)
		return nil, fmt.Errorf("storages3: %w", err)
	}
	if length == 0 {
		return b.emptyRange(ctx, key, offset, length)
	}
	end := offset + length - 1
	if length > math.MaxInt64-offset {
		end = math.MaxInt64 - 1
	}
	var opts minio.GetObjectOptions
	if err := opts.SetRange(offset, end); err != nil {
		return nil, fmt.Errorf("storages3: get range of %q: %w", key, err)
	}
	body, oi, h, err := b.open(ctx, "get range", key, opts)
	if er, ok := asErrorResponse(err); ok && (er.StatusCode == http.StatusRequestedRangeNotSatisfiable || er.Code == "InvalidRange") {
		return b.emptyRange(ctx, key, offset, length)
	}
	if err != nil {
		return nil, err
	}
	if h.Get("Content-Range") != "" {
		return body, nil
	}
	// The server ignored the range and sent the whole object: cut the range out here.
	n, err := storage.CheckRange(key, oi.Size, offset, length)
	if err != nil {
		body.Close()
		return nil, fmt.Errorf("storages3: %w", err)
	}
	if _, err := io.CopyN(io.Discard, body, offset); err != nil {
		body.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(body, n), body}, nil
}

// emptyRange answers a range that covers no bytes: it exists if the object does and offset
// is not past its end.
func (b *Bucket) emptyRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	info, err := b.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	n, err := storage.CheckRange(key, info.Size, offset, length)
	if err != nil {
		return nil, fmt.Errorf("storages3: %w", err)
	}
	if n != 0 {
		// The server refused a range that the object covers: it changed in between.
		return nil, fmt.Errorf("storages3: get range of %q: the object changed during the read", key)
	}
	return io.NopCloser(bytes.NewReader(nil)), nil
}

// open sends one GET and returns its body, guarded by a watchdog that limits how long each
// read may wait for bytes.
func (b *Bucket) open(ctx context.Context, op, key string, opts minio.GetObjectOptions) (io.ReadCloser, minio.ObjectInfo, http.Header, error) {
	ctx, w := newWatchdog(ctx, b.timeout)
	rc, oi, h, err := b.core.GetObject(ctx, b.bucket, key, opts)
	if err != nil {
		err = b.fail(ctx, op, key, err)
		w.stop()
		return nil, minio.ObjectInfo{}, nil, err
	}
	w.disarm()
	return &body{rc: rc, ctx: ctx, w: w, b: b, op: op, key: key}, oi, h, nil
}

// body is a GET response body whose reads are bounded by the watchdog.
type body struct {
	rc      io.ReadCloser
	ctx     context.Context // the watchdog's
	w       *watchdog
	b       *Bucket
	op, key string
}

func (r *body) Read(p []byte) (int, error) {
	r.w.arm()
	n, err := r.rc.Read(p)
	r.w.disarm()
	if err != nil && err != io.EOF {
		err = r.b.fail(r.ctx, r.op, r.key, err)
	}
	return n, err
}

func (r *body) Close() error {
	err := r.rc.Close()
	r.w.stop()
	return err
}

var _ storage.Lister = (*Bucket)(nil)

// List implements [storage.Lister] with ListObjectsV2 requests, stopping at storage.MaxList
// objects. Keys that end in "/" (folder markers) are not objects. The iterator's requests
// stop when List returns, since its context ends then.
func (b *Bucket) List(ctx context.Context, prefix string) ([]storage.ObjectInfo, error) {
	if !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("storages3: list: %w %q: a prefix ends in /", storage.ErrInvalidKey, prefix)
	}
	if err := b.check(ctx, strings.TrimSuffix(prefix, "/")); err != nil {
		return nil, err
	}
	ctx, w := newWatchdog(ctx, b.timeout)
	defer w.stop()
	fetchOwner := false
	var out []storage.ObjectInfo
	for oi := range b.client.ListObjectsIter(ctx, b.bucket, minio.ListObjectsOptions{
		Prefix: prefix, Recursive: true, MaxKeys: storage.MaxList, FetchOwner: &fetchOwner,
	}) {
		w.arm() // each page is progress
		if oi.Err != nil {
			return nil, b.fail(ctx, "list", prefix, oi.Err)
		}
		if strings.HasSuffix(oi.Key, "/") {
			continue
		}
		out = append(out, storage.ObjectInfo{Key: oi.Key, Size: oi.Size, ModTime: oi.LastModified})
		if len(out) >= storage.MaxList {
			break
		}
	}
	return out, nil
}

// Put implements [storage.WriteBucket]; see the package doc for how it stays all-or-nothing.
// The returned ModTime is the local time of completion (S3 does not report it on a PUT).
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, size int64) (storage.ObjectInfo, error) {
	if err := b.check(ctx, key); err != nil {
		return storage.ObjectInfo{}, err
	}
	start := time.Now()
	g := &guardReader{ctx: ctx, r: r, size: size}
	var src io.Reader = g
	if size < 0 {
		// Peek at one byte: an empty reader becomes an empty PUT rather than a multipart
		// upload of one empty part (which some servers mishandle).
		var first [1]byte
		switch _, err := io.ReadFull(g, first[:]); {
		case err == io.EOF:
			size = 0
		case err != nil:
			return storage.ObjectInfo{}, fmt.Errorf("storages3: put %q: %w", key, g.failure(err))
		default:
			src = io.MultiReader(bytes.NewReader(first[:]), g)
		}
	}
	single := size >= 0 && uint64(size) <= b.partSize
	if single {
		buf := make([]byte, size)
		if _, err := io.ReadFull(g, buf); err != nil || g.probe() != nil {
			return storage.ObjectInfo{}, fmt.Errorf("storages3: put %q: %w", key, g.failure(err))
		}
		src = bytes.NewReader(buf) // seekable: minio-go can retry the PUT
	}

	wctx, w := newWatchdog(ctx, b.timeout)
	defer w.stop()
	g.w = w
	partSize := b.partSize
	if size > 0 && uint64(size) > partSize*maxParts {
		partSize = (uint64(size)/maxParts + 1 + 1<<20 - 1) &^ (1<<20 - 1) // whole MiB, enough for maxParts
	}
	info, err := b.client.PutObject(wctx, b.bucket, key, src, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		PartSize:    partSize,
		Progress:    progress{w},
		// An empty body gains nothing from a streaming signature, and some servers
		// (versitygw 1.8) leave its trailer unread on a kept-alive connection.
		DisableContentSha256: size == 0,
	})
	if err != nil {
		if g.err != nil {
			return storage.ObjectInfo{}, fmt.Errorf("storages3: put %q: %w", key, g.err)
		}
		return storage.ObjectInfo{}, b.fail(wctx, "put", key, err)
	}
	n := max(size, g.n)
	if info.Size >= 0 && info.Size != n {
		// cannot happen with a complete upload; refuse to report a wrong size
		return storage.ObjectInfo{}, fmt.Errorf("storages3: put %q: stored %d bytes, read %d", key, info.Size, n)
	}
	b.logger.DebugContext(ctx, "s3 put", slog.String("key", key), slog.Int64("bytes", n),
		slog.Bool("multipart", !single), slog.Duration("took", time.Since(start)))
	return storage.ObjectInfo{Key: key, Size: n, ModTime: cmp.Or(info.LastModified, time.Now())}, nil
}

// Delete removes the object at key; a missing key is not an error.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := b.check(ctx, key); err != nil {
		return err
	}
	wctx, w := newWatchdog(ctx, b.timeout)
	defer w.stop()
	if err := b.client.RemoveObject(wctx, b.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return b.fail(wctx, "delete", key, err)
	}
	return nil
}

// check validates the key and the context before any request.
func (b *Bucket) check(ctx context.Context, key string) error {
	if err := storage.ValidateKey(key); err != nil {
		return fmt.Errorf("storages3: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storages3: %q: %w", key, context.Cause(ctx))
	}
	return nil
}

// progress re-arms the watchdog whenever minio-go sends request body bytes.
type progress struct{ w *watchdog }

func (p progress) Read(b []byte) (int, error) {
	p.w.arm()
	return len(b), nil
}

// guardReader hands the caller's reader to minio-go and makes it exact: it stops at size
// bytes, makes sure the reader has no more, and turns an early end into an error. It returns
// its errors with a zero count, so that no io.ReadFull in minio-go can drop them, and
// remembers the first one. While it waits for the caller's reader the watchdog is off.
type guardReader struct {
	ctx  context.Context
	r    io.Reader
	size int64     // -1: unknown
	w    *watchdog // nil until the upload starts
	n    int64     // bytes given out
	eof  bool
	err  error // the first error given out, other than io.EOF
}

func (g *guardReader) Read(p []byte) (int, error) {
	switch {
	case g.err != nil:
		return 0, g.err
	case g.eof:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	}
	if err := g.ctx.Err(); err != nil {
		return 0, g.fail(context.Cause(g.ctx))
	}
	if g.size >= 0 && g.n == g.size { // size 0
		if err := g.probe(); err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	if g.size >= 0 {
		p = p[:min(int64(len(p)), g.size-g.n)]
	}
	if g.w != nil {
		g.w.disarm()
	}
	n, err := g.r.Read(p)
	if g.w != nil {
		g.w.arm()
	}
	g.n += int64(n)
	switch {
	case err == io.EOF && g.size >= 0 && g.n < g.size:
		return 0, g.fail(storage.SizeMismatch(g.size, g.n))
	case err == io.EOF:
		g.eof = true
		if n > 0 {
			return n, nil
		}
		return 0, io.EOF
	case err != nil:
		return 0, g.fail(err)
	}
	if g.size >= 0 && g.n == g.size {
		// Check for more now: a reader of a multiple of the part size is never asked again.
		if err := g.probe(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// probe reads once more after size bytes: the reader must be at its end.
func (g *guardReader) probe() error {
	if g.eof || g.err != nil || g.size < 0 {
		return g.err
	}
	var b [1]byte
	for range 100 {
		n, err := g.r.Read(b[:])
		switch {
		case n > 0:
			return g.fail(storage.SizeMismatch(g.size, g.size+1))
		case err == io.EOF:
			g.eof = true
			return nil
		case err != nil:
			return g.fail(err)
		}
	}
	return g.fail(io.ErrNoProgress)
}

func (g *guardReader) fail(err error) error {
	if g.err == nil {
		g.err = err
	}
	return g.err
}

// failure returns the reader's error if it had one, else err.
func (g *guardReader) failure(err error) error {
	if g.err != nil {
		return g.err
	}
	return err
}

// TimeoutError reports that S3 made no progress for the timeout. It wraps
// context.DeadlineExceeded.
type TimeoutError struct {
	Timeout time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("S3 made no progress for %s", e.Timeout)
}

func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// watchdog cancels its context when it has been armed for its duration without being
// disarmed or re-armed. It starts armed.
type watchdog struct {
	d      time.Duration
	t      *time.Timer
	cancel context.CancelCauseFunc
}

func newWatchdog(parent context.Context, d time.Duration) (context.Context, *watchdog) {
	ctx, cancel := context.WithCancelCause(parent)
	w := &watchdog{d: d, cancel: cancel}
	w.t = time.AfterFunc(d, func() { cancel(&TimeoutError{Timeout: d}) })
	return ctx, w
}

func (w *watchdog) arm()    { w.t.Reset(w.d) }
func (w *watchdog) disarm() { w.t.Stop() }
func (w *watchdog) stop()   { w.t.Stop(); w.cancel(context.Canceled) }

// fail turns an error of an operation on key into the package's errors: the context's cause
// if it ended (the watchdog's TimeoutError, or the caller's cancellation), ErrNotExist for
// every "not found", ErrAccessDenied for rejected credentials, otherwise the S3 error or the
// transport's. ctx is the operation's (watchdog) context.
func (b *Bucket) fail(ctx context.Context, op, key string, err error) error {
	what := fmt.Sprintf("storages3: %s %q", op, key)
	if key == "" {
		what = fmt.Sprintf("storages3: %s %q at %s", op, b.bucket, b.endpoint)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, context.Cause(ctx))
	}
	er, ok := asErrorResponse(err)
	if !ok {
		return fmt.Errorf("%s: %w", what, err)
	}
	ae := &apiError{er}
	switch {
	case er.StatusCode == http.StatusBadRequest && (b.keyLen < MinLakeFSKeyLen || b.keyLen > MaxLakeFSKeyLen):
		// lakeFS's S3 gateway matches the key id with .{3,20} and answers any other length
		// with 400 MissingFields (no body at all to a HEAD), while its API takes the key.
		return fmt.Errorf("%s: %w: the S3 gateway rejected the access key id: lakeFS wants %d to %d characters, this one has %d: %w",
			what, ErrAccessDenied, MinLakeFSKeyLen, MaxLakeFSKeyLen, b.keyLen, ae)
	case er.StatusCode == http.StatusUnauthorized || er.StatusCode == http.StatusForbidden || deniedCodes[er.Code]:
		return fmt.Errorf("%s: %w: %w", what, ErrAccessDenied, ae)
	case er.StatusCode == http.StatusNotFound || notFoundCodes[er.Code]:
		if er.Code == "NoSuchBucket" {
			return fmt.Errorf("%s: bucket %q: %w: %w", what, b.bucket, storage.ErrNotExist, ae)
		}
		return fmt.Errorf("%s: %w: %w", what, storage.ErrNotExist, ae)
	default:
		return fmt.Errorf("%s: %w", what, ae)
	}
}

var notFoundCodes = map[string]bool{"NoSuchKey": true, "NoSuchBucket": true, "NotFound": true, "NoSuchVersion": true}

// deniedCodes are checked before "not found": some servers answer an unknown access key with
// a 404 (versitygw: XAdminUserNotFound).
var deniedCodes = map[string]bool{
	"AccessDenied": true, "InvalidAccessKeyId": true, "SignatureDoesNotMatch": true,
	"InvalidToken": true, "ExpiredToken": true, "InvalidSecurity": true, "XAdminUserNotFound": true,
}

func asErrorResponse(err error) (minio.ErrorResponse, bool) {
	var er minio.ErrorResponse
	if err != nil && errors.As(err, &er) && (er.Code != "" || er.StatusCode != 0) {
		return er, true
	}
	return minio.ErrorResponse{}, false
}

// apiError is an S3 error answer, described by code, status and message. It unwraps to
// minio.ErrorResponse.
type apiError struct{ er minio.ErrorResponse }

func (e *apiError) Error() string {
	msg := e.er.Message
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return fmt.Sprintf("S3 %s (HTTP %d): %s", cmp.Or(e.er.Code, "error"), e.er.StatusCode, msg)
}

func (e *apiError) Unwrap() error { return e.er }

var _ storage.Presigner = (*Bucket)(nil)

// Presign implements [storage.Presigner] with a SigV4 presigned GET. It makes no request.
func (b *Bucket) Presign(ctx context.Context, key string, expiry time.Duration) (string, error) {
	if err := b.check(ctx, key); err != nil {
		return "", err
	}
	u, err := b.client.PresignedGetObject(ctx, b.bucket, key, expiry, nil)
	if err != nil {
		return "", fmt.Errorf("storages3: presign %q: %w", key, err)
	}
	return u.String(), nil
}
