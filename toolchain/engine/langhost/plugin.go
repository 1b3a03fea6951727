package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
)

// RunPlugin starts a plugin written in Python for the engine and streams its stdout, stderr and
// exit code back. The engine calls it for a directory policy pack (`pulumi preview --policy-pack
// DIR`, kind "analyzer", with PulumiPolicy.yaml) and for a resource, converter or tool plugin
// directory (PulumiPlugin.yaml). It follows upstream pulumi-language-python:
//
//   - a policy pack runs as `python -u -m pulumi.policy ARGS DIR` in its own directory, behind
//     sdk/v3's PolicyProxy: the proxy answers the engine first, waits for ConfigureStack, starts
//     the pack with that stack's PULUMI_PROJECT, PULUMI_STACK, PULUMI_ORGANIZATION,
//     PULUMI_DRY_RUN and PULUMI_CONFIG (what pulumi_policy packs have always been started with),
//     then forwards every call, ConfigureStack included, to the pack;
//   - any other plugin runs its __main__.py (`python DIR ARGS`) or, without one, a buildable
//     package through `python -m pulumi.run.plugin NAME ARGS`, in the engine's working directory.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	ctx := server.Context()
	analyzer := req.GetKind() == string(apitype.AnalyzerPlugin)
	tc, err := h.resolveToolchain(req.GetInfo(), !analyzer)
	if err != nil {
		return err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return err
	}
	cmd, err := pluginCommand(ctx, tc, req, analyzer)
	if err != nil {
		return err
	}

	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	env = append(env, req.GetEnv()...)
	var proxy *sdk.PolicyProxy
	if analyzer {
		// Upstream keeps a policy pack's historical working directory: the pack's own.
		cmd.Dir = req.GetInfo().GetProgramDirectory()
		if proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout); err != nil {
			return fmt.Errorf("could not start the policy pack proxy: %w", err)
		}
		stack, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("could not get the stack configuration for the policy pack: %w", err)
		}
		stackVars, err := stackEnv(stack)
		if err != nil {
			return err
		}
		env = append(env, stackVars...)
	} else {
		cmd.Dir = req.GetPwd()
	}
	cmd.Env = append(env, "PYTHONUNBUFFERED=1")
	cmd.Stdout, cmd.Stderr = stdout, stderr

	if err := cmd.Start(); err != nil {
		if proxy != nil {
			proxy.Abort(err)
		}
		return fmt.Errorf("could not run plugin %s: %w", cmd.Path, err)
	}
	if proxy != nil {
		err = proxy.Attach(ctx, cmd) // returns when the pack exits
	} else {
		err = cmd.Wait()
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return server.Send(&pulumirpc.RunPluginResponse{
			Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(exitErr.ExitCode())},
		})
	}
	if err != nil {
		return err
	}
	return closer.Close()
}

// pluginCommand is the Python command line that starts the plugin of req.
func pluginCommand(ctx context.Context, tc toolchain.Toolchain, req *pulumirpc.RunPluginRequest, analyzer bool,
) (*exec.Cmd, error) {
	dir := req.GetInfo().GetProgramDirectory()
	if _, err := os.Stat(filepath.Join(dir, "__main__.py")); err == nil {
		if analyzer {
			// pulumi.policy (in the pulumi package) runs DIR's __main__.py with the stack's settings.
			args := append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...)
			return tc.Command(ctx, append(args, dir)...)
		}
		return tc.Command(ctx, append([]string{dir}, req.GetArgs()...)...)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("looking for %s/__main__.py: %w", dir, err)
	}
	buildable, err := toolchain.IsBuildablePackage(dir)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", dir, err)
	}
	if !buildable {
		return nil, fmt.Errorf("plugin %s is not runnable: it has neither __main__.py nor a buildable pyproject.toml", dir)
	}
	pyproject, err := toolchain.LoadPyproject(dir)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", dir, err)
	}
	return tc.ModuleCommand(ctx, "pulumi.run.plugin", append([]string{pyproject.Project.Name}, req.GetArgs()...)...)
}

// stackEnv is the environment a policy pack starts with for the stack the engine configured it
// for; none when the engine asked something else first (e.g. `pulumi policy publish`).
func stackEnv(stack *pulumirpc.AnalyzerStackConfigureRequest) ([]string, error) {
	if stack == nil {
		return nil, nil
	}
	var env []string
	for k, v := range map[string]string{
		"PULUMI_ORGANIZATION": stack.GetOrganization(), "PULUMI_PROJECT": stack.GetProject(),
		"PULUMI_STACK": stack.GetStack(), "PULUMI_DRY_RUN": strconv.FormatBool(stack.GetDryRun()),
	} {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	config, err := configEnv(stack.GetConfig(), stack.GetConfigSecretKeys())
	if err != nil {
		return nil, fmt.Errorf("could not encode the stack configuration for the policy pack: %w", err)
	}
	return append(env, config...), nil
}
