"""Static objects: what arrived in a camera's picture and stayed.

The stages, in the order a frame meets them:

- :mod:`~edge_agent.static.background`: the dual background (long-term, selective;
  short-term, fast) and each pixel's static age;
- :mod:`~edge_agent.static.regions`: stopped pixels → regions (bodies, not lines;
  fragments joined), the ghost and light-change tests;
- :mod:`~edge_agent.static.objects`: regions and still detector boxes → objects with a
  stable id, named by the detector or a second look, covered while a person is there;
- :mod:`~edge_agent.static.place`: an incident's place before and with its object,
  and whether it looks as before again (the only way an incident ends).
"""
