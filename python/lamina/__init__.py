from ._cpu import *
