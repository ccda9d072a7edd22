import {
  matchPattern,
  topicFilterProblem,
  topicMatches,
  topicNameProblem,
} from '../../../drivers/mqtt/topics';

describe('topicMatches', () => {
  test.each([
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/b', 'a/b/c', false],
    ['a/b/c', 'a/b', false],
    ['a/+', 'a/b', true],
    ['a/+', 'a/', true],
    ['a/+', 'a', false],
    ['a/+', 'a/b/c', false],
    ['a/+/c', 'a/b/c', true],
    ['a/+/c', 'a/b/d', false],
    ['+', 'a', true],
    ['+', '/a', false],
    ['+/+', '/a', true],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['a/#', 'ab', false],
    ['a/#', 'b/a', false],
    ['+/#', 'a', true],
    ['#', 'a/b/c', true],
    ['#', '$SYS/broker/uptime', false],
    ['+/broker/uptime', '$SYS/broker/uptime', false],
    ['$SYS/#', '$SYS/broker/uptime', true],
    ['nocturne/presence/+/detection', 'nocturne/presence/pole-12/detection', true],
    ['nocturne/presence/+/detection', 'nocturne/presence/pole-12/battery', false],
  ])('%s matches %s: %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });
});

describe('topic names and filters', () => {
  test('publishing refuses wildcards, empty topics and NUL', () => {
    expect(topicNameProblem('nocturne/bridge/state')).toBeUndefined();
    expect(topicNameProblem('nocturne/+/state')).toMatch(/wildcard/);
    expect(topicNameProblem('nocturne/#')).toMatch(/wildcard/);
    expect(topicNameProblem('')).toMatch(/empty/);
    expect(topicNameProblem('a\u0000b')).toMatch(/NUL/);
    expect(topicNameProblem('a'.repeat(70_000))).toMatch(/65,535/);
  });

  test.each([
    ['a/b', undefined],
    ['a/+/c', undefined],
    ['#', undefined],
    ['a/#', undefined],
    ['$share/group/a/+', undefined],
    ['', /empty/],
    ['a/#/c', /'#'/],
    ['a#', /'#'/],
    ['a/b+', /'\+'/],
    ['$share//a', /group/],
    ['$share/g+/a', /group/],
    ['$share/group', /no filter/],
    ['$share/group/', /no filter/],
    ['$share/group/a/#/b', /'#'/],
  ])('filter %p', (filter, problem) => {
    if (problem === undefined) expect(topicFilterProblem(filter)).toBeUndefined();
    else expect(topicFilterProblem(filter)).toMatch(problem);
  });

  test('shared subscriptions match on the filter after the group', () => {
    expect(matchPattern('$share/nocturne/presence/#')).toBe('presence/#');
    expect(matchPattern('presence/#')).toBe('presence/#');
  });
});
