"""Training: the recipe's pieces (optimizer, inputs, class weights), resumable checkpoints, the fit loop."""
