package sphinx

// Test-only views of the engine's pool.

// decoderInits returns how many decoders were built so far.
func (e *Engine) decoderInits() int64 { return e.inits.Load() }

// idleDecoders returns the number of free decoders in the current pool.
func (e *Engine) idleDecoders() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pool == nil {
		return 0
	}
	return e.pool.idle()
}

// idle returns the number of decoders ready to lend.
func (p *pool) idle() int { return len(p.free) }
