package scalesim

import (
	"fmt"
	"io"
	"time"
)

// WriteMarkdown writes r as a Markdown table, one row per phase, with the
// per-delivery costs that the scaling model is built from.
func (r *Result) WriteMarkdown(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "Replicas: %d (started in %s); heap per replica %s idle, %s after the run; "+
		"index entries per replica %.0f; resubscriptions %d\n\n",
		r.Replicas, r.StartTime.Round(time.Millisecond), kib(r.HeapIdle), kib(r.HeapPerReplica),
		r.IndexEntries, r.Resubscriptions); err != nil {
		return err
	}
	for _, p := range r.Phases {
		if p.Entries > 0 {
			continue
		}
		n, secs := float64(r.Replicas), p.Wall.Seconds()
		if _, err := fmt.Fprintf(w, "%s, %s: Redis %.3f cores (%.1f µs of CPU per replica per second), "+
			"%.1f commands and %.0f bytes out per replica per second; replicas' CPU %.1f µs per replica per second\n\n",
			p.Name, p.Wall.Round(time.Millisecond), p.RedisCores(), p.RedisCPU*1e6/n/secs,
			float64(p.RedisCommands)/n/secs, float64(p.RedisOut)/n/secs, p.ProcessCPU*1e6/n/secs); err != nil {
			return err
		}
	}
	const header = "| phase | entries | write rate /s | p50 | p99 | max | complete | applied | lost | via pull " +
		"| messages | entries/message | Redis cores (busiest node) | Redis µs/delivery | Redis out B/delivery | Redis in MB | replicas' cores | replicas' µs/delivery |\n" +
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
	if _, err := io.WriteString(w, header); err != nil {
		return err
	}
	for _, p := range r.Phases {
		if p.Entries == 0 {
			continue
		}
		if _, err := fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %s | %s | %d | %d | %d | %d | %.1f | %.2f (%.2f) | %.2f | %.0f | %.1f | %.2f | %.1f |\n",
			p.Name, p.Entries, p.Rate, ms(p.P50), ms(p.P99), ms(p.Max), ms(p.Complete), p.Applied, p.Lost, p.ViaPull,
			p.RedisMessages, p.EntriesPerMessage(), p.RedisCores(), p.RedisBusiestNodeCores(), p.RedisMicrosPerDelivery(), p.BytesPerDelivery(), float64(p.RedisIn)/1e6,
			p.ProcessCores(), p.ProcessMicrosPerDelivery()); err != nil {
			return err
		}
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func kib(b uint64) string { return fmt.Sprintf("%d KiB", b>>10) }
