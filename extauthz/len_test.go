package extauthz

// len is the number of bindings held.
func (b *bindings) len() int {
	if m := b.m.Load(); m != nil {
		return len(*m)
	}
	return 0
}

// len is the number of hot-tier slots in use.
func (h *hotTier) len() int {
	n := 0
	for i := range h.slots {
		if h.slots[i].Load() != nil {
			n++
		}
	}
	return n
}
