seq_len = 50
x_probe, y_probe = create_memory_task(seq_len=seq_len, batch_size=64)

# An LSTM whose forget gates start near 1 (bias 3: sigmoid(3) = 0.95), a common initialisation.
remembering = RNNComparison(1, 64, 2, "LSTM").to(device)
with torch.no_grad():
    remembering.rnn.bias_ih_l0[64:128].fill_(3.0)  # PyTorch's gate order: input, forget, candidate, output
probes = dict(memory_models, **{"LSTM, forget bias 3": remembering})

step_grads = {}
for name, model in probes.items():
    x = x_probe.clone().requires_grad_(True)
    model.zero_grad()
    F.cross_entropy(model(x), y_probe).backward()
    step_grads[name] = x.grad.norm(dim=(0, 2)).cpu()  # how strongly the loss reaches back to step t

fig, ax = plt.subplots(figsize=(7, 4))
for name, grads in step_grads.items():
    ax.semilogy(range(seq_len), grads.numpy(), label=name)
ax.set(title="Gradient reaching each time step (untrained models)", xlabel="time step t",
       ylabel="‖∂loss / ∂x_t‖ (log scale)")
ax.legend()
fig.tight_layout()

first_over_last = {name: (grads[0] / grads[-1]).item() for name, grads in step_grads.items()}
for name, ratio in first_over_last.items():
    print(f"{name:<19} gradient at t=0 is {ratio:.1e} times the gradient at t={seq_len - 1}")
