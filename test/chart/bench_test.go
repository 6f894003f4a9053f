package chart

import "testing"

// BenchmarkRender measures one full render (schema validation and every
// template), the unit of work of most tests here and of `helm template`.
func BenchmarkRender(b *testing.B) {
	values := map[string]any{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := render(b, values); err != nil {
			b.Fatal(err)
		}
	}
}
