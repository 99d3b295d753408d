"""The course as the instructor wrote it: course.yml, lectures/*.md and snippets/, read (parse.py) and
validated (load.py) into an immutable Course before anything runs; every problem is reported at once."""
