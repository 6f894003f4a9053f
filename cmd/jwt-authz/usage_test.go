package main

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// cobraUsageTemplate is cobra's default usage template with the change
// usage makes: a command group has no "[flags]" use line.
func cobraUsageTemplate() string {
	t := (&cobra.Command{}).UsageTemplate()
	return strings.Replace(t, "{{if .Runnable}}", "{{if and .Runnable (not .HasAvailableSubCommands)}}", 1)
}

// TestUsageMatchesTemplate holds usage to what cobra's template, so
// changed, writes for every command of the tree.
func TestUsageMatchesTemplate(t *testing.T) {
	tmplRoot := newRootCmd(io.Discard, io.Discard)
	tmplRoot.SetUsageFunc(nil)
	tmplRoot.SetUsageTemplate(cobraUsageTemplate())
	funcRoot := newRootCmd(io.Discard, io.Discard)
	for _, root := range []*cobra.Command{tmplRoot, funcRoot} {
		root.InitDefaultHelpCmd()
		root.InitDefaultCompletionCmd()
		root.InitDefaultHelpFlag()
	}
	paths := commandPaths(funcRoot, nil)
	if len(paths) < 15 {
		t.Fatalf("only %d commands found", len(paths))
	}
	for _, path := range paths {
		want := usageOf(t, tmplRoot, path)
		got := usageOf(t, funcRoot, path)
		if got != want {
			t.Errorf("jwt-authz %s: usage\n%s\nwant (cobra's template)\n%s", strings.Join(path, " "), got, want)
		}
	}
}

func usageOf(t *testing.T, root *cobra.Command, path []string) string {
	t.Helper()
	c, _, err := root.Find(path)
	if err != nil {
		t.Fatalf("%v: %v", path, err)
	}
	c.InitDefaultHelpFlag()
	return c.UsageString()
}

func TestUsageGroups(t *testing.T) {
	tree := func() *cobra.Command {
		run := func(*cobra.Command, []string) {}
		root := &cobra.Command{Use: "app", Run: run}
		root.AddGroup(&cobra.Group{ID: "a", Title: "Group A:"})
		root.AddCommand(
			&cobra.Command{Use: "one", Short: "first", GroupID: "a", Run: run},
			&cobra.Command{Use: "two", Short: "second", Run: run},
		)
		return root
	}
	root, tmpl := tree(), tree()
	root.SetUsageFunc(usage)
	tmpl.SetUsageTemplate(cobraUsageTemplate())
	got := root.UsageString()
	if want := tmpl.UsageString(); got != want {
		t.Errorf("usage\n%s\nwant\n%s", got, want)
	}
	for _, want := range []string{"Group A:\n  one", "Additional Commands:\n  two"} {
		if !strings.Contains(got, want) {
			t.Errorf("usage lacks %q:\n%s", want, got)
		}
	}
}
