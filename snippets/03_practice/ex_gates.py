sentence = "the acting was not good and the story was great".split()
tokens = torch.tensor([[vocab[word] for word in sentence]]).to(device)
lstm = sentiment_model.lstm
hidden = lstm.hidden_size
with torch.no_grad():
    inputs = sentiment_model.embedding(tokens)[0]  # (steps, embed_dim)
    h, c = torch.zeros(hidden, device=device), torch.zeros(hidden, device=device)
    gates = {"input": [], "forget": [], "output": []}
    for x_t in inputs:  # the forward direction, step by step, from its own weights
        z = lstm.weight_ih_l0 @ x_t + lstm.bias_ih_l0 + lstm.weight_hh_l0 @ h + lstm.bias_hh_l0
        i, f, g, o = z.chunk(4)
        i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
        c = f * c + i * torch.tanh(g)
        h = o * torch.tanh(c)
        for name, value in (("input", i), ("forget", f), ("output", o)):
            gates[name].append(value)

fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
for ax, (name, values) in zip(axes, gates.items()):
    image = ax.imshow(torch.stack(values, dim=1).cpu().numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax.set(title=f"{name} gate", ylabel="hidden unit")
axes[-1].set_xticks(range(len(sentence)), sentence, rotation=30)
axes[-1].set_xlabel("token")
fig.colorbar(image, ax=axes, label="gate activation")
fig.suptitle("LSTM gate activations for one sentence (forward direction)")

mean_gates = {name: torch.stack(values).mean().item() for name, values in gates.items()}
for name, value in mean_gates.items():
    print(f"mean {name} gate: {value:.2f}")
