package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/config"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/fdo"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/retrieve"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/search"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/searchindex"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/searchwiki"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
)

// reindexCommand, as the first argument, rebuilds the search index from storage and exits.
const reindexCommand = "reindex"

// searchBackend is the search service of one process: the backend and, for the embedded
// index, the index itself (which also follows every commit).
type searchBackend struct {
	backend search.Backend
	index   *searchindex.Index
	wg      sync.WaitGroup
}

// openSearch opens the search backend cfg names; nil when search is off. An index that
// cannot be opened (a read-only data folder, another process holding it) does not stop the
// service: searches answer UNAVAILABLE, naming the cause in the log. For reindex it is an
// error (strict).
func openSearch(cfg config.Config, src fdo.Source, bucket storage.ReadBucket, strict bool, logger *slog.Logger) (*searchBackend, error) {
	switch cfg.Search {
	case config.SearchOff:
		return nil, nil
	case config.SearchMediaWiki:
		wb, err := searchwiki.New(cfg.MediaWikiAPI, searchwiki.Options{ProfileItems: cfg.ProfileItems(),
			MaxPageSize: min(cfg.SearchMaxPageSize, 500), Timeout: cfg.SearchTimeout}, logger)
		if err != nil {
			return nil, err
		}
		return &searchBackend{backend: wb}, nil
	}
	var list func(context.Context) ([]string, error)
	if d, ok := src.(*fdo.Dir); ok {
		list = d.List
	}
	// The index reads what GetRecord serves: the stored record of an object made through the
	// gateway, else the façade's.
	idx, err := searchindex.Open(cfg.SearchIndexPath(), retrieve.LocalFirst(bucket, cfg.Branch, src), bucket, cfg.Branch, list,
		searchindex.Options{MaxPageSize: cfg.SearchMaxPageSize, Timeout: cfg.SearchTimeout}, logger)
	if err != nil {
		if strict {
			return nil, err
		}
		logger.Error("search index not usable: searches fail until it is (see --search-index-dir)", slog.Any("err", err))
		return &searchBackend{backend: unusable{err}}, nil
	}
	return &searchBackend{backend: idx, index: idx}, nil
}

// start runs the index's worker until ctx is done, and builds an empty index in the
// background (the first start, or a deleted index folder).
func (s *searchBackend) start(ctx context.Context, logger *slog.Logger) {
	if s == nil || s.index == nil {
		return
	}
	s.wg.Go(func() { s.index.Run(ctx) })
	if n, err := s.index.Count(); err == nil && n == 0 {
		s.wg.Go(func() {
			if n, err := s.index.Rebuild(ctx); err != nil {
				logger.WarnContext(ctx, "search index not built; run retrieve-svc reindex", slog.Any("err", err))
			} else {
				logger.InfoContext(ctx, "search index built", slog.Int("objects", n))
			}
		})
	}
}

// close waits for the worker (ctx must be done) and closes the index.
func (s *searchBackend) close() {
	if s == nil {
		return
	}
	s.wg.Wait()
	if s.index != nil {
		s.index.Close()
	}
}

// reindex rebuilds the index and reports how many objects it holds.
func (s *searchBackend) reindex(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	if s == nil || s.index == nil {
		return fmt.Errorf("reindex: the search backend is %s, not the embedded index", cfg.Search)
	}
	n, err := s.index.Rebuild(ctx)
	if err != nil {
		return fmt.Errorf("reindex: %w", err)
	}
	logger.InfoContext(ctx, "search index rebuilt", slog.Int("objects", n), slog.String("index", cfg.SearchIndexPath()))
	return nil
}

// unusable is the backend of an index that could not be opened.
type unusable struct{ err error }

func (u unusable) Search(context.Context, search.Request) (search.Page, error) {
	return search.Page{}, fmt.Errorf("%w: the search index could not be opened: %v", search.ErrUnavailable, u.err)
}
