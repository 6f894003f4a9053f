package scalesim

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"
)

// WriteMarkdown writes r as Markdown: a line per idle phase, then two
// tables with a row per phase (two when there are listeners): how the
// entries reached the replicas (and a table of the raw listeners' messages
// when there are some), and what it cost Redis and this process,
// with the per-delivery costs that the scaling model is built from.
func (r *Result) WriteMarkdown(w io.Writer) error {
	listeners := r.Replicas - r.FullReplicas - r.RawListeners
	if _, err := fmt.Fprintf(w, "Replicas: %d: %d full (the product's revocation.Service, each apply timed per (replica, entry)), "+
		"%d listeners (the product's Store on its own client: the same subscription, pulls and sweeps, so the same Redis work, "+
		"without the index; each delivery timed per (listener, entry) by the entry's write sequence number, per message, change-log read or pull), "+
		"%d raw listeners (a client of their own subscribed to the channel as the product subscribes, receiving every message whole "+
		"and reading its header's first sequence number only, and the probe's read of the store's position every probe interval; "+
		"no entry decoded, no pull, full listing or sweep; a session set's content read whole, as a replica's load reads it, not decoded). "+
		"Started in %s; heap per replica %s idle, %s after the run (mean over all, the writer counted as one); "+
		"index entries per full replica %.0f; resubscriptions %d\n\n",
		r.Replicas, r.FullReplicas, listeners, r.RawListeners, r.StartTime.Round(time.Millisecond), kib(r.HeapIdle), kib(r.HeapPerReplica),
		r.IndexEntries, r.Resubscriptions); err != nil {
		return err
	}
	for _, p := range r.Phases {
		if p.Entries > 0 {
			continue
		}
		n, secs := float64(r.Replicas), p.Wall.Seconds()
		if _, err := fmt.Fprintf(w, "%s, %s: Redis %.3f cores (%.1f µs of CPU per replica per second), "+
			"%.1f commands and %.0f bytes out per replica per second; this process's CPU %.1f µs per replica per second\n\n",
			p.Name, p.Wall.Round(time.Millisecond), p.RedisCores(), p.RedisCPU*1e6/n/secs,
			float64(p.RedisCommands)/n/secs, float64(p.RedisOut)/n/secs, p.ProcessCPU*1e6/n/secs); err != nil {
			return err
		}
	}
	const delays = "Propagation: delay from the writer's return (`Revoke`, what the admin API answers 201 after) to the replica's apply " +
		"(full) or delivery (listeners), once the whole message or pull that brought the entry is done; lost: (replica, entry) " +
		"pairs missing when the settle window ended; via pull: pairs a pull brought first; uncredited: messages " +
		"whose entries did not match their sequence numbers (their entries count as lost unless a pull brought them); " +
		"pull errors, full listings and entries pulled: the listeners' (a failed pull makes the next SyncInterval tick list every stored entry, " +
		"as in the Service; entries pulled counts every entry their pulls read, brought first or not).\n\n" +
		"| phase | replicas | entries | write errors | written/s | p50 | p99 | max | complete | delivered | lost | via pull " +
		"| uncredited messages | pull errors | full listings | entries pulled |\n" +
		"|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
	if _, err := io.WriteString(w, delays); err != nil {
		return err
	}
	for _, p := range r.Phases {
		if p.Entries == 0 {
			continue
		}
		if _, err := fmt.Fprintf(w, "| %s | full (%d) | %d | %d | %.0f | %s | %s | %s | %s | %d | %d | %d | – | – | – | – |\n",
			p.Name, r.FullReplicas, p.Entries, p.WriteErrors, p.Rate, ms(p.P50), ms(p.P99), ms(p.Max), ms(p.Complete),
			p.Applied, p.Lost, p.ViaPull); err != nil {
			return err
		}
		if listeners == 0 {
			continue
		}
		d := p.Listeners
		if d.Unmeasured != "" {
			if _, err := fmt.Fprintf(w, "| %s | listeners (%d): not measured (%s) |\n", p.Name, listeners, d.Unmeasured); err != nil {
				return err
			}
			continue
		}
		if _, err := fmt.Fprintf(w, "| %s | listeners (%d) | %d | %d | %.0f | %s | %s | %s | %s | %d | %d | %d | %d | %d | %d | %d |\n",
			p.Name, listeners, p.Entries, p.WriteErrors, p.Rate, ms(d.P50), ms(d.P99), ms(d.Max), ms(d.Complete),
			d.Delivered, d.Lost, d.ViaPull, d.ShortMessages, d.PullErrors, d.FullListings, d.PullReads); err != nil {
			return err
		}
	}
	if r.RawListeners > 0 {
		if err := r.writeRaw(w); err != nil {
			return err
		}
	}
	if err := r.writeSetReads(w); err != nil {
		return err
	}
	const costs = "\nCost over each phase (from its first write to its last delivery or the settle window's end); " +
		"Redis CPU is `used_cpu_user + used_cpu_sys` (all nodes; the busiest in brackets), per delivery: per (replica, entry) " +
		"delivered, full replicas and listeners (raw ones too) together.\n\n" +
		"| phase | messages | entries/message | Redis cores (busiest node) | Redis µs/delivery | Redis out MB | Redis out B/delivery " +
		"| Redis in MB | this process's cores | this process's µs/delivery |\n" +
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
	if _, err := io.WriteString(w, costs); err != nil {
		return err
	}
	for _, p := range r.Phases {
		if p.Entries == 0 {
			continue
		}
		if _, err := fmt.Fprintf(w, "| %s | %d | %.1f | %.2f (%.2f) | %.3f | %.1f | %.1f | %.1f | %.2f | %.2f |\n",
			p.Name, p.RedisMessages, p.EntriesPerMessage(), p.RedisCores(), p.RedisBusiestNodeCores(), p.RedisMicrosPerDelivery(),
			float64(p.RedisOut)/1e6, p.BytesPerDelivery(), float64(p.RedisIn)/1e6,
			p.ProcessCores(), p.ProcessMicrosPerDelivery()); err != nil {
			return err
		}
	}
	return r.writeNodes(w)
}

// writeRaw writes the raw listeners' table.
func (r *Result) writeRaw(w io.Writer) error {
	const head = "\nRaw listeners: messages published (PUBLISH and SPUBLISH calls during the phase) and received per raw listener " +
		"(fewest / most); missed: (raw listener, message) pairs published but not received, each a loss; entries: (raw listener, entry) " +
		"pairs received, a message's entries numbered from its header's first sequence number to the next message's; delay: from the " +
		"writer's return for a message's first entry to the message's arrival, per (raw listener, message); in a session-set phase, " +
		"entries are the raw listeners that read the set's content and the delay runs to the end of each one's read.\n\n" +
		"| phase | raw listeners | messages published | received (fewest / most) | missed | entries | p50 | p99 | max | complete " +
		"| MB received | probes | probe errors |\n" +
		"|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
	if _, err := io.WriteString(w, head); err != nil {
		return err
	}
	for _, p := range r.Phases {
		if p.Entries == 0 {
			continue
		}
		d := p.Raw
		delays := fmt.Sprintf("%d | %s | %s | %s | %s", d.Delivered, ms(d.P50), ms(d.P99), ms(d.Max), ms(d.Complete))
		if d.Unmeasured != "" {
			delays = "not measured (" + d.Unmeasured + ") | – | – | – | –"
		}
		if _, err := fmt.Fprintf(w, "| %s | raw (%d) | %d | %d / %d | %d | %s | %.1f | %d | %d |\n",
			p.Name, r.RawListeners, d.Published, d.MinReceived, d.MaxReceived, d.Missed, delays,
			float64(d.Bytes)/1e6, d.Probes, d.ProbeErrors); err != nil {
			return err
		}
	}
	return nil
}

// writeSetReads writes, for the session-set phase, how its content was
// read.
func (r *Result) writeSetReads(w io.Writer) error {
	wrote := false
	for _, p := range r.Phases {
		if p.SetContentBytes == 0 {
			continue
		}
		if !wrote {
			const head = "\nSession set content: its size as stored; the raw listeners that read it whole after the message announcing it " +
				"(the header from the primary, the chunks through their set reader), those that never did within the settle window (each a loss), " +
				"their failed reads (each made again) and the MB they read; the set contents read again from the primary by any replica " +
				"(the product's `jwt_authz_revocation_set_reads_from_primary_total`); and the MGET calls of every node (each up to four chunks).\n\n" +
				"| phase | content MB | raw listeners read | never read | failed reads | MB read by raw listeners | read again from the primary | MGETs |\n" +
				"|---|---:|---:|---:|---:|---:|---:|---:|\n"
			if _, err := io.WriteString(w, head); err != nil {
				return err
			}
			wrote = true
		}
		d := p.Raw
		if _, err := fmt.Fprintf(w, "| %s | %.2f | %d | %d | %d | %.1f | %d | %d |\n", p.Name, float64(p.SetContentBytes)/1e6,
			d.SetReads, d.SetUnread, d.SetReadErrors, float64(d.SetBytes)/1e6, p.SetFallbacks, p.RedisMGets); err != nil {
			return err
		}
	}
	return nil
}

// writeNodes writes each Redis node's usage per phase, when more than one
// node was read.
func (r *Result) writeNodes(w io.Writer) error {
	wrote := false
	for _, p := range r.Phases {
		if len(p.RedisNodes) < 2 {
			continue
		}
		if !wrote {
			const head = "\nRedis per node over each phase: CPU (`used_cpu_user + used_cpu_sys`) in seconds and as cores over the phase, " +
				"bytes out (`total_net_output_bytes`) and in, commands processed and MGET calls (session-set chunk reads); " +
				"the busiest node (most CPU) is marked.\n\n" +
				"| phase | node | role | CPU s | cores | MB out | MB in | commands | MGETs |\n" +
				"|---|---|---|---:|---:|---:|---:|---:|---:|\n"
			if _, err := io.WriteString(w, head); err != nil {
				return err
			}
			wrote = true
		}
		busiest := slices.MaxFunc(p.RedisNodes, func(a, b NodeUsage) int { return cmp.Compare(a.CPU, b.CPU) })
		for _, n := range p.RedisNodes {
			role := n.Role
			if n.Addr == busiest.Addr {
				role += ", busiest"
			}
			if _, err := fmt.Fprintf(w, "| %s | %s | %s | %.3f | %.2f | %.1f | %.1f | %d | %d |\n", p.Name, n.Addr, role,
				n.CPU, perSecond(n.CPU, p.Wall), float64(n.Out)/1e6, float64(n.In)/1e6, n.Commands, n.MGets); err != nil {
				return err
			}
		}
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func kib(b uint64) string { return fmt.Sprintf("%d KiB", b>>10) }
