"""The service at run time: the BentoML service, its request checks, the live page and the prediction log.

Only what the bento installs: no TensorFlow, Keras, MLflow or packaging (fer_platform.packaging builds the bento).
"""
