def train_model(model, train_X, train_y, val_X, val_y, epochs=30):
    history = {"train_loss": [], "val_loss": [], "train_acc": [], "val_acc": []}
    for epoch in range(epochs):
        model.train()
        optimizer.zero_grad()
        outputs = model(train_X)  # the whole training set is one batch
        loss = criterion(outputs, train_y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)  # against exploding gradients
        optimizer.step()
        train_acc = (outputs.argmax(dim=1) == train_y).float().mean().item()

        model.eval()
        with torch.no_grad():
            val_outputs = model(val_X)
            val_loss = criterion(val_outputs, val_y).item()
            val_acc = (val_outputs.argmax(dim=1) == val_y).float().mean().item()
        for name, value in zip(history, (loss.item(), val_loss, train_acc, val_acc)):
            history[name].append(value)
        if epoch % 5 == 0 or epoch == epochs - 1:
            print(f"Epoch {epoch:2d}: train loss {loss.item():.4f}, train acc {train_acc:.4f}, "
                  f"val loss {val_loss:.4f}, val acc {val_acc:.4f}")
    return history


history = train_model(model, train_X, train_y, val_X, val_y, epochs=30)
final_val_acc = history["val_acc"][-1]
majority = max(label_counts) / sum(label_counts)
print(f"\nFinal validation accuracy: {final_val_acc:.4f} (always guessing the majority label: {majority:.4f})")
