package main

import (
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/spf13/cobra"
)

// The usage and the version are written by functions rather than by
// cobra's templates: a program that executes a text/template keeps every
// exported method of every type it links (the template may call any of
// them by name), which made the binary a third larger and its idle RSS
// 2.5 MiB higher.

// runRoot runs the command line without a command: --version, or a
// usage error naming the commands.
func runRoot(cmd *cobra.Command, args []string) error {
	if v, _ := cmd.Flags().GetBool("version"); v {
		_, err := fmt.Fprintln(cmd.OutOrStdout(), versionLine())
		return err
	}
	return needSubcommand(cmd, args)
}

// usage writes what cobra's default usage template writes, except that a
// command group leaves out the "[flags]" use line: it runs only to say
// that a command is missing.
func usage(c *cobra.Command) error {
	var b strings.Builder
	b.WriteString("Usage:")
	if c.Runnable() && !c.HasAvailableSubCommands() {
		fmt.Fprintf(&b, "\n  %s", c.UseLine())
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(&b, "\n  %s [command]", c.CommandPath())
	}
	if len(c.Aliases) > 0 {
		fmt.Fprintf(&b, "\n\nAliases:\n  %s", c.NameAndAliases())
	}
	if c.HasExample() {
		fmt.Fprintf(&b, "\n\nExamples:\n%s", c.Example)
	}
	if c.HasAvailableSubCommands() {
		groups := c.Groups()
		if len(groups) == 0 {
			commandList(&b, c, "Available Commands:", func(*cobra.Command) bool { return true })
		}
		for _, g := range groups {
			commandList(&b, c, g.Title, func(sub *cobra.Command) bool { return sub.GroupID == g.ID })
		}
		if len(groups) > 0 && !c.AllChildCommandsHaveGroup() {
			commandList(&b, c, "Additional Commands:", func(sub *cobra.Command) bool { return sub.GroupID == "" })
		}
	}
	if c.HasAvailableLocalFlags() {
		fmt.Fprintf(&b, "\n\nFlags:\n%s", strings.TrimRightFunc(c.LocalFlags().FlagUsages(), unicode.IsSpace))
	}
	if c.HasAvailableInheritedFlags() {
		fmt.Fprintf(&b, "\n\nGlobal Flags:\n%s", strings.TrimRightFunc(c.InheritedFlags().FlagUsages(), unicode.IsSpace))
	}
	if c.HasHelpSubCommands() {
		b.WriteString("\n\nAdditional help topics:")
		for _, sub := range c.Commands() {
			if sub.IsAdditionalHelpTopicCommand() {
				fmt.Fprintf(&b, "\n  %-*s %s", sub.CommandPathPadding(), sub.CommandPath(), sub.Short)
			}
		}
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(&b, "\n\nUse \"%s [command] --help\" for more information about a command.", c.CommandPath())
	}
	b.WriteString("\n")
	_, err := io.WriteString(c.OutOrStderr(), b.String())
	return err
}

// commandList writes a title and the available commands of c (and help)
// that pass in.
func commandList(b *strings.Builder, c *cobra.Command, title string, in func(*cobra.Command) bool) {
	fmt.Fprintf(b, "\n\n%s", title)
	for _, sub := range c.Commands() {
		if (sub.IsAvailableCommand() || sub.Name() == "help") && in(sub) {
			fmt.Fprintf(b, "\n  %-*s %s", sub.NamePadding(), sub.Name(), sub.Short)
		}
	}
}
