package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/knadh/koanf/providers/file"
)

// reloadDebounce gathers the events of one save (editors write, rename
// and chmod) into one reload.
const reloadDebounce = 500 * time.Millisecond

// watchFiles reloads when any of paths changes (plugins.reload.watch),
// debounced, until ctx ends.
func watchFiles(ctx context.Context, paths []string, debounce time.Duration, reload *reloader, logger *slog.Logger) error {
	changed := make(chan struct{}, 1)
	for _, path := range paths {
		p := file.Provider(path)
		if err := p.Watch(func(_ any, err error) {
			if err != nil {
				logger.Warn("config file watch", "file", path, "error", err)
				return
			}
			select {
			case changed <- struct{}{}:
			default:
			}
		}); err != nil {
			return fmt.Errorf("plugins.reload.watch: %s: %w", path, err)
		}
		defer func() { _ = p.Unwatch() }()
	}
	logger.Info("reloading plugins when a config file changes", "files", len(paths))
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
			fire = time.After(debounce)
		case <-fire:
			fire = nil
			_, _ = reload.Reload(ctx, "file")
		}
	}
}
