"""The advice's evidence: a model of training outcomes, fitted on measured runs.

- :mod:`.features`: what the model reads about a setting before training (its initial gain and rate,
  measured by a quick Monte-Carlo check or predicted by the theory, T, the budget, the depth, the init);
- :mod:`.model`: the shipped model (stabviz/data/outcome_model.json): P(collapse) and the expected shortfall;
- :mod:`.fit`: fitting it on the dataset of :mod:`stabviz.evidence.outcomes`, validated leave-one-task-out;
- :mod:`.advice`: the committed verdict and the recommended whole settings, each with its predicted outcome.

docs/evidence/outcomes/README.md says how the data were made and how well the model holds on held-out tasks.
"""
